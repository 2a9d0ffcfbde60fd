//! Mail to shoppers: receipts and refund notices (written to the outbox, `outbound_email`, by
//! the settlement), verification and reset links (written by the account actions), sent over
//! SMTP (lettre). Each message is claimed under a row lock, sent, and
//! marked sent in one transaction, so two mail runs never send the same row; a failed send
//! waits longer each time and is kept until it goes. Every message has a Message-ID made from
//! its row, so in the rare case a send succeeds and the mark is lost (the process dies in
//! between), the copy sent again is recognisably the same message.

use std::time::Duration;

use app::domain::{Currency, Money, group_thousands};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// How one mail run ends: what it sent, what had no address, what failed (and waits).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub sent: usize,
    pub skipped: usize,
    pub failed: usize,
}

/// At most this many messages per run; the next run takes the rest.
const BATCH: usize = 200;
/// Wait before the first retry; doubled each time, at most `LONGEST_WAIT`.
const FIRST_WAIT: Duration = Duration::from_secs(60);
const LONGEST_WAIT: Duration = Duration::from_secs(6 * 3600);

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// Where links in mail point: the shop's address as shoppers reach it.
    public_url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("SMTP_URL is not a valid SMTP URL")]
    Url,
    #[error("MAIL_FROM is not a valid address")]
    From,
}

impl Mailer {
    /// `smtp_url` is `smtp://host:port` (plain, as a local catcher takes it),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtps://…` (TLS).
    pub fn new(smtp_url: &SecretString, from: &str, public_url: &str) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url.expose_secret())
            .map_err(|_| MailError::Url)?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        Ok(Self {
            transport,
            from: from.parse().map_err(|_| MailError::From)?,
            public_url: public_url.trim_end_matches('/').to_string(),
        })
    }
}

struct Due {
    id: i64,
    kind: String,
    amount_minor: Option<i64>,
    attempts: i32,
    token: Option<String>,
    email: Option<String>,
    /// The order's, for mail about an order.
    public_id: Option<String>,
    title: Option<String>,
    order_amount: Option<i64>,
    currency: Option<Currency>,
    /// What an order unlocked with credits cost in them.
    credits_spent: Option<i64>,
}

/// Whether the outbox holds mail to send now (a look that costs one indexed read).
pub async fn any_due(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (
               select 1 from outbound_email
               where sent_at is null and skipped_reason is null and next_attempt_at <= now()
           ) as "due!""#
    )
    .fetch_one(pool)
    .await
}

/// Sends what is due in the outbox, oldest first.
pub async fn send_due(pool: &PgPool, mailer: &Mailer) -> Result<Sent, sqlx::Error> {
    send_due_until(pool, mailer, &CancellationToken::new()).await
}

/// [`send_due`], taking no further message once `stop` is cancelled (the server is stopping):
/// the message being sent is finished and marked sent, and the rest wait for the next run, on
/// whichever server.
#[tracing::instrument(skip_all)]
pub async fn send_due_until(
    pool: &PgPool,
    mailer: &Mailer,
    stop: &CancellationToken,
) -> Result<Sent, sqlx::Error> {
    let mut done = Sent::default();
    for _ in 0..BATCH {
        if stop.is_cancelled() {
            break;
        }
        let mut tx = pool.begin().await?;
        // Another run may hold a row: it is skipped, not waited for.
        let due = sqlx::query_as!(
            Due,
            r#"select m.id, m.kind, m.amount_minor, m.attempts, m.token,
                      coalesce(o.email, e.email, u.email) as email,
                      o.public_id as "public_id?", p.title as "title?",
                      o.amount_minor as "order_amount?", o.currency as "currency?: Currency",
                      o.credits_spent
               from outbound_email m
               left join customer_order o on o.id = m.order_id
               left join product p on p.id = o.product_id
               left join entitlement e on e.order_id = o.id
               left join app_user u on u.id = m.user_id
               where m.sent_at is null and m.skipped_reason is null and m.next_attempt_at <= now()
               order by m.next_attempt_at
               limit 1
               for update of m skip locked"#
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some(due) = due else {
            break;
        };
        let Some(to) = due.email.as_deref().and_then(|e| e.parse::<Mailbox>().ok()) else {
            sqlx::query!(
                "update outbound_email set skipped_reason = 'no address', token = null where id = $1",
                due.id
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::warn!(mail = due.id, "no address to send an order's mail to");
            done.skipped += 1;
            continue;
        };
        let sent = match compose(mailer, &due, to) {
            Ok(message) => mailer
                .transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match sent {
            Ok(()) => {
                // A link's token is kept only until its message is sent.
                sqlx::query!(
                    "update outbound_email
                     set sent_at = now(), attempts = attempts + 1, last_error = null, token = null
                     where id = $1",
                    due.id
                )
                .execute(&mut *tx)
                .await?;
                done.sent += 1;
            }
            Err(error) => {
                let wait = FIRST_WAIT
                    .saturating_mul(1u32 << due.attempts.clamp(0, 16).unsigned_abs())
                    .min(LONGEST_WAIT);
                sqlx::query!(
                    "update outbound_email
                     set attempts = attempts + 1, last_error = $2,
                         next_attempt_at = now() + make_interval(secs => $3)
                     where id = $1",
                    due.id,
                    error,
                    wait.as_secs_f64()
                )
                .execute(&mut *tx)
                .await?;
                tracing::warn!(mail = due.id, %error, retry_in_secs = wait.as_secs(), "could not send mail; kept for a retry");
                done.failed += 1;
            }
        }
        tx.commit().await?;
        if done.failed > 0 {
            // The mail server is probably down: the rest wait for the next run.
            break;
        }
    }
    if done != Sent::default() {
        tracing::info!(?done, "mail run");
    }
    Ok(done)
}

fn compose(mailer: &Mailer, due: &Due, to: Mailbox) -> Result<Message, String> {
    let (subject, body) = match due.kind.as_str() {
        "receipt" | "refund" => about_order(mailer, due)?,
        account => about_account(mailer, account, due.token.as_deref())?,
    };
    let domain = mailer.from.email.domain().to_string();
    Message::builder()
        .from(mailer.from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{}-{}@{domain}>", due.kind, due.id)))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| e.to_string())
}

fn about_order(mailer: &Mailer, due: &Due) -> Result<(String, String), String> {
    let (Some(public_id), Some(title), Some(order_amount), Some(currency)) = (
        due.public_id.as_deref(),
        due.title.as_deref(),
        due.order_amount,
        due.currency,
    ) else {
        return Err("mail about an order without its order".into());
    };
    let money = |minor: i64| {
        Money::new(minor, currency)
            .map(|m| m.to_string())
            .unwrap_or_else(|_| format!("{minor} {}", currency.code()))
    };
    let link = format!("{}/orders/{public_id}", mailer.public_url);
    Ok(match (due.kind.as_str(), due.amount_minor) {
        ("receipt", _) => (
            format!("Your receipt for {title}"),
            format!(
                "Thank you for your purchase.\n\n\
                 {title}\n\
                 Paid: {paid}\n\
                 Order: {public_id}\n\n\
                 Your order, and what it gives you, is here:\n{link}\n",
                paid = match due.credits_spent {
                    Some(credits) => format!("{} credits", group_thousands(credits)),
                    None => money(order_amount),
                },
            ),
        ),
        ("refund", Some(total)) => (
            format!("Your refund for {title}"),
            format!(
                "We have refunded {refunded} of the {paid} you paid for {title}.\n\
                 Order: {public_id}\n\n\
                 Your bank shows the money in a few days. The order is here:\n{link}\n",
                refunded = money(total),
                paid = money(order_amount),
            ),
        ),
        (kind, _) => return Err(format!("unknown mail kind {kind}")),
    })
}

fn about_account(
    mailer: &Mailer,
    kind: &str,
    token: Option<&str>,
) -> Result<(String, String), String> {
    let base = &mailer.public_url;
    let link = |path: &str| -> Result<String, String> {
        let token = token.ok_or("a link's token was already forgotten")?;
        Ok(format!("{base}{path}?token={token}"))
    };
    Ok(match kind {
        "verify_email" => (
            "Verify your email".to_string(),
            format!(
                "Welcome! To finish making your account, open this link within 24 hours:\n\
                 {}\n\n\
                 Anything you bought with this email before joins your account then.\n\
                 If you did not sign up, ignore this message.\n",
                link("/verify-email")?
            ),
        ),
        "reset_password" => (
            "Reset your password".to_string(),
            format!(
                "To choose a new password, open this link within an hour:\n{}\n\n\
                 If you did not ask for this, ignore this message: your password stays as \
                 it is.\n",
                link("/reset-password")?
            ),
        ),
        "account_exists" => (
            "You already have an account".to_string(),
            format!(
                "Someone (probably you) tried to sign up with this email, which already has \
                 an account. Sign in here:\n{base}/sign-in\n\n\
                 Forgot your password? Choose a new one here:\n{base}/forgot-password\n"
            ),
        ),
        other => return Err(format!("unknown mail kind {other}")),
    })
}
