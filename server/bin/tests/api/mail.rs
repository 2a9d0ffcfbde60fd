//! Mail to buyers, through the local SMTP catcher: a receipt once per paid order however often
//! its payment is settled, a notice per refund, nothing lost while the mail server is down, and
//! the mail job sending on its own once a payment settles, here or in another process.

use reqwest::StatusCode;
use server::mail::{self, Sent};

use crate::helpers::{
    Session, TestApp, WEBHOOK_SECRET, eventually, mail_catcher, spawn, spawn_with_env,
    unique_address,
};

/// An order for Field Recordings ($12.00) whose buyer typed `email`, paid and settled by its
/// webhook.
async fn paid_by(app: &TestApp, email: &str) -> Session {
    let session = app.checkout("field-recordings-vol-1").await;
    app.set_email(&session, email).await;
    app.pay(&session, "pm_card_visa").await;
    let succeeded = app.event_payload("payment_intent.succeeded").await;
    assert_eq!(app.deliver_signed(&succeeded).await, StatusCode::OK);
    session
}

fn text(message: &serde_json::Value) -> &str {
    message["text"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_paid_order_sends_one_receipt_however_often_its_payment_is_settled() {
    let app = spawn().await;
    let catcher = mail_catcher();
    let buyer = unique_address("receipt");
    let order = paid_by(&app, &buyer).await;
    // The same event again, and the order page settling from Stripe.
    let succeeded = app.event_payload("payment_intent.succeeded").await;
    assert_eq!(app.deliver_signed(&succeeded).await, StatusCode::OK);
    app.page(&format!("/orders/{}", order.order_id)).await;
    let mailer = catcher.mailer("https://shop.example");

    let first = mail::send_due(&app.pool, &mailer).await.unwrap();
    let second = mail::send_due(&app.pool, &mailer).await.unwrap();

    assert_eq!(
        first,
        Sent {
            sent: 1,
            ..Sent::default()
        }
    );
    assert_eq!(second, Sent::default());
    let inbox = catcher.inbox(&buyer).await;
    assert_eq!(inbox.len(), 1, "{inbox:#?}");
    assert_eq!(
        inbox[0]["subject"],
        "Your receipt for Field Recordings, Vol. 1"
    );
    let body = text(&inbox[0]);
    assert!(body.contains("Paid: $12.00"), "{body}");
    assert!(
        body.contains(&format!("https://shop.example/orders/{}", order.order_id)),
        "{body}"
    );
}

#[tokio::test]
async fn mail_waits_while_the_mail_server_is_down_and_goes_once_it_is_back() {
    let app = spawn().await;
    let catcher = mail_catcher();
    let buyer = unique_address("outage");
    paid_by(&app, &buyer).await;
    // A port nothing listens on: the mail server is down.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = mail::Mailer::new(
        &secrecy::SecretString::from(format!("smtp://127.0.0.1:{closed}")),
        "shop@storefront.test",
        "https://shop.example",
    )
    .unwrap();

    let failed = mail::send_due(&app.pool, &down).await.unwrap();

    assert_eq!(
        failed,
        Sent {
            failed: 1,
            ..Sent::default()
        }
    );
    let (attempts, waits): (i32, bool) = sqlx::query_as(
        "select attempts, next_attempt_at > now() from outbound_email where kind = 'receipt'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((attempts, waits), (1, true), "kept, to be tried later");
    let mailer = catcher.mailer("https://shop.example");
    assert_eq!(
        mail::send_due(&app.pool, &mailer).await.unwrap(),
        Sent::default(),
        "not before its time"
    );
    assert!(catcher.inbox(&buyer).await.is_empty());

    sqlx::query("update outbound_email set next_attempt_at = now()")
        .execute(&app.pool)
        .await
        .unwrap();
    let sent = mail::send_due(&app.pool, &mailer).await.unwrap();

    assert_eq!(sent.sent, 1);
    assert_eq!(catcher.inbox(&buyer).await.len(), 1);
}

#[tokio::test]
async fn a_refund_sends_a_notice_with_what_was_refunded() {
    let app = spawn().await;
    let catcher = mail_catcher();
    let buyer = unique_address("refund");
    let order = paid_by(&app, &buyer).await;
    app.refund(&order, Some(500)).await;
    let refunded = app.event_payload("charge.refunded").await;
    assert_eq!(app.deliver_signed(&refunded).await, StatusCode::OK);
    assert_eq!(app.deliver_signed(&refunded).await, StatusCode::OK);

    let sent = mail::send_due(&app.pool, &catcher.mailer("https://shop.example"))
        .await
        .unwrap();

    assert_eq!(sent.sent, 2, "the receipt and one notice");
    let inbox = catcher.inbox(&buyer).await;
    let notice = inbox
        .iter()
        .find(|m| m["subject"] == "Your refund for Field Recordings, Vol. 1")
        .unwrap_or_else(|| panic!("no refund notice in {inbox:#?}"));
    assert!(
        text(notice).contains("We have refunded $5.00 of the $12.00 you paid"),
        "{}",
        text(notice)
    );
}

#[tokio::test]
async fn an_order_refunded_in_full_before_its_payment_settled_gets_a_notice_and_no_receipt() {
    let app = spawn().await;
    let catcher = mail_catcher();
    let buyer = unique_address("refunded-first");
    let order = app.checkout("field-recordings-vol-1").await;
    app.set_email(&order, &buyer).await;
    app.pay(&order, "pm_card_visa").await;
    app.refund(&order, None).await;
    let refunded = app.event_payload("charge.refunded").await;
    assert_eq!(app.deliver_signed(&refunded).await, StatusCode::OK);
    let succeeded = app.event_payload("payment_intent.succeeded").await;
    assert_eq!(app.deliver_signed(&succeeded).await, StatusCode::OK);
    assert_eq!(app.order_status(&order.order_id).await, "refunded");

    mail::send_due(&app.pool, &catcher.mailer("https://shop.example"))
        .await
        .unwrap();

    let subjects: Vec<String> = catcher
        .inbox(&buyer)
        .await
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(subjects, ["Your refund for Field Recordings, Vol. 1"]);
}

#[tokio::test]
async fn the_mail_job_sends_the_receipt_on_its_own_soon_after_the_payment() {
    let catcher = mail_catcher();
    let app = spawn_with_env(
        Some(WEBHOOK_SECRET),
        &[
            ("BACKGROUND_JOBS", "true"),
            ("SMTP_URL", catcher.smtp.as_str()),
            ("PUBLIC_URL", "https://shop.example"),
        ],
    )
    .await;
    let buyer = unique_address("job");

    paid_by(&app, &buyer).await;

    // The webhook's settlement wakes this server's mail job as it commits; no schedule tick
    // is waited for.
    let inbox = eventually("the receipt in the catcher", || async {
        let inbox = catcher.inbox(&buyer).await;
        (!inbox.is_empty()).then_some(inbox)
    })
    .await;
    assert_eq!(inbox.len(), 1);
    // The job marks the message sent once the mail server has taken it, so the catcher can
    // show it a moment before the mark commits.
    eventually("the receipt marked sent", || async {
        let sent = app
            .count("select count(*) from outbound_email where sent_at is not null")
            .await;
        (sent == 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn mail_another_process_wrote_is_sent_by_the_running_servers_job() {
    let catcher = mail_catcher();
    let app = spawn_with_env(
        None,
        &[
            ("BACKGROUND_JOBS", "true"),
            ("SMTP_URL", catcher.smtp.as_str()),
            ("PUBLIC_URL", "https://shop.example"),
        ],
    )
    .await;
    // The runs queued at the server's start (mail, and housekeeping, which could settle the
    // payment itself) are over, so only the mail job's own look can send what comes next.
    eventually("the background runs queued at start, finished", || async {
        let (finished, open) = sqlx::query_as::<_, (i64, i64)>(
            "select count(*) filter (where state = 'succeeded'),
                    count(*) filter (where state in ('pending', 'in_progress'))
             from underway.task",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        (finished >= 2 && open == 0).then_some(())
    })
    .await;
    let buyer = unique_address("operator");
    let order = app.checkout("field-recordings-vol-1").await;
    app.set_email(&order, &buyer).await;
    app.pay(&order, "pm_card_visa").await;

    // No webhook: the operator's reconcile command, a process of its own, settles the payment
    // and writes the receipt. Nothing tells the running server; its mail job finds it.
    let out = app.server_command(&["reconcile"]).output().await.unwrap();
    crate::helpers::succeeded(&out);
    assert_eq!(app.order_status(&order.order_id).await, "paid");

    let inbox = eventually("the receipt in the catcher", || async {
        let inbox = catcher.inbox(&buyer).await;
        (!inbox.is_empty()).then_some(inbox)
    })
    .await;
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        inbox[0]["subject"],
        "Your receipt for Field Recordings, Vol. 1"
    );
}
