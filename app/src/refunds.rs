//! Refunds a shopper asks for from their receipt, within the refund window. A request is
//! written first (with the pack credits it takes back, so they cannot be spent meanwhile), then
//! sent to Stripe under the request's own idempotency key: a double click finds the pending
//! request and sends the same key, so Stripe refunds once; an answer lost on the way is asked
//! again by the housekeeping job with that key. The order itself changes only from what Stripe
//! reports about the charge, through the webhook's own `settle_refund`.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use stripe::{ApiErrorsType, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_core::refund::{CreateRefund, CreateRefundReason, ListRefund};
use stripe_types::Expandable;

use crate::credits;
use crate::domain::{
    ALREADY_REFUNDED, Currency, DisputeStatus, Money, NOT_REFUNDABLE, NOT_REFUNDABLE_ADMIN,
    OrderId, OrderStatus, PACK_SPENT, ProductKind, REFUND_AMOUNT_POSITIVE, REFUND_CHANGED,
    REFUND_DISPUTED, REFUND_MORE_THAN_LEFT, REFUND_REFUSED, REFUND_UNDER_WAY, REFUND_WINDOW_PASSED,
};
use crate::error::{OrInternal, ShopError};
use crate::fulfillment;
use crate::models::{Receipt, RefundOffer};
use crate::payment_intents;

struct Row {
    id: i64,
    public_id: String,
    title: String,
    slug: String,
    kind: ProductKind,
    amount_minor: i64,
    currency: Currency,
    credits_spent: Option<i64>,
    status: OrderStatus,
    amount_refunded_minor: i64,
    email: Option<String>,
    paid_at: Option<String>,
    pack_credits: Option<i64>,
    dispute_status: Option<DisputeStatus>,
    payment_intent_id: Option<String>,
    within_window: bool,
    until: Option<String>,
    pending_request: Option<i64>,
}

/// Reads `user`'s order `order` (`None` if it is not theirs), locking it when `lock` is set.
async fn read(
    conn: &mut PgConnection,
    user: i64,
    order: &OrderId,
    window: Duration,
    lock: bool,
) -> Result<Option<Row>, sqlx::Error> {
    let days = i32::try_from(window.as_secs() / 86_400).unwrap_or(i32::MAX);
    // Two spellings of one query: a lock clause cannot be a parameter.
    macro_rules! select {
        ($tail:literal) => {
            sqlx::query_as!(
                Row,
                r#"select o.id, o.public_id, p.title, p.slug, p.kind as "kind: ProductKind",
                          o.amount_minor, o.currency as "currency: Currency", o.credits_spent,
                          o.status as "status: OrderStatus", o.amount_refunded_minor, o.email,
                          to_char(o.paid_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI "UTC"') as paid_at,
                          o.pack_credits,
                          order_dispute_status(o.id) as "dispute_status: DisputeStatus",
                          o.payment_intent_id,
                          coalesce(o.paid_at + make_interval(days => $3) > now(), false) as "within_window!",
                          to_char((o.paid_at + make_interval(days => $3)) at time zone 'UTC', 'YYYY-MM-DD') as until,
                          null::bigint as pending_request -- read below, once locked
                   from customer_order o join product p on p.id = o.product_id
                   where o.public_id = $1 and o.user_id = $2 "# + $tail,
                order.as_str(),
                user,
                days
            )
        };
    }
    let row = if lock {
        select!("for no key update of o")
            .fetch_optional(&mut *conn)
            .await?
    } else {
        select!("").fetch_optional(&mut *conn).await?
    };
    let Some(mut row) = row else {
        return Ok(None);
    };
    // Read after the order's lock is held (the locking statement's subqueries and functions see
    // the snapshot taken before the lock was waited for, and would miss a request or a dispute
    // committed a moment earlier).
    let after_lock = sqlx::query!(
        r#"select (select id from refund_request where order_id = $1 and status = 'pending')
                      as pending_request,
                  order_dispute_status($1) as "dispute_status: DisputeStatus""#,
        row.id
    )
    .fetch_one(&mut *conn)
    .await?;
    row.pending_request = after_lock.pending_request;
    row.dispute_status = after_lock.dispute_status;
    Ok(Some(row))
}

/// Where a pack stands in its owner's ledger: credits still in it (after earlier refunds), and
/// of those how many are unspent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PackPosition {
    left: i64,
    unspent: i64,
}

/// What the owner of `row` may get back now. Pure, so its rules are tested on their own.
fn offer(row: &Row, pack: Option<PackPosition>) -> RefundOffer {
    let paid_with_money =
        row.credits_spent.is_none() && row.amount_minor > 0 && row.payment_intent_id.is_some();
    if !paid_with_money {
        return RefundOffer::None;
    }
    match row.status {
        OrderStatus::Paid | OrderStatus::PartiallyRefunded => {}
        OrderStatus::Refunded => return RefundOffer::Unavailable(ALREADY_REFUNDED.into()),
        _ => return RefundOffer::None,
    }
    if row.pending_request.is_some() {
        return RefundOffer::InProgress;
    }
    if matches!(
        row.dispute_status,
        Some(DisputeStatus::Open | DisputeStatus::Lost)
    ) {
        return RefundOffer::Unavailable(REFUND_DISPUTED.into());
    }
    if !row.within_window {
        return RefundOffer::Unavailable(REFUND_WINDOW_PASSED.into());
    }
    let left = row.amount_minor - row.amount_refunded_minor;
    let (minor, credits_back, credits_used) = match (row.pack_credits, pack) {
        (Some(size), Some(pack)) => {
            // Only the unspent part of a pack goes back, at the price it was bought for.
            let share = i128::from(row.amount_minor) * i128::from(pack.unspent) / i128::from(size);
            let minor = i64::try_from(share).unwrap_or(0).min(left);
            // What the money returned pays for, when less is left of the payment than the
            // unspent credits are worth (a refund made elsewhere took back fewer).
            let back = credits::share_of_pack(size, minor, row.amount_minor).min(pack.unspent);
            (minor, Some(back), Some(pack.left - pack.unspent))
        }
        _ => (left, None, None),
    };
    match Money::new(minor, row.currency) {
        Ok(amount) => RefundOffer::Available {
            amount,
            credits_back,
            credits_used,
            until: row.until.clone().unwrap_or_default(),
        },
        Err(_) if credits_back.is_some() => RefundOffer::Unavailable(PACK_SPENT.into()),
        Err(_) => RefundOffer::Unavailable(ALREADY_REFUNDED.into()),
    }
}

async fn pack_position(
    conn: &mut PgConnection,
    user: i64,
    row: &Row,
) -> Result<Option<PackPosition>, sqlx::Error> {
    if row.pack_credits.is_none() {
        return Ok(None);
    }
    let (left, unspent) = credits::pack_position(conn, user, row.id).await?;
    Ok(Some(PackPosition { left, unspent }))
}

/// `user`'s receipt for `order`, with what they may get back now. `NotFound` for an order that
/// is not theirs, alike whether it exists.
pub async fn receipt(
    pool: &PgPool,
    user: i64,
    order: &OrderId,
    window: Duration,
) -> Result<Receipt, ShopError> {
    let mut conn = pool
        .acquire()
        .await
        .or_internal("Failed to read a receipt")?;
    let row = read(&mut conn, user, order, window, false)
        .await
        .or_internal("Failed to read a receipt")?
        .ok_or(ShopError::NotFound)?;
    let pack = pack_position(&mut conn, user, &row)
        .await
        .or_internal("Failed to read a pack's credits")?;
    let refund = offer(&row, pack);
    Ok(Receipt {
        id: OrderId::parse(&row.public_id)?,
        product_title: row.title,
        product_slug: row.slug,
        kind: row.kind,
        amount: crate::orders::cost(row.amount_minor, row.currency, row.credits_spent)?,
        status: row.status,
        refunded: Money::new(row.amount_refunded_minor, row.currency).ok(),
        email: row.email,
        paid_at: row.paid_at,
        pack_credits: row.pack_credits,
        dispute: row.dispute_status,
        refund,
    })
}

/// How a refund request ended, as far as the shopper's page goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// Stripe refunded, and the order shows it.
    Refunded,
    /// Saved, and on its way: Stripe's answer did not come back yet.
    Pending,
}

/// Asks for a refund of `order` for `user`, who confirmed `expected_minor` on their receipt.
#[tracing::instrument(skip_all, fields(user, order = %order))]
pub async fn request(
    pool: &PgPool,
    stripe: &stripe::Client,
    user: i64,
    order: &OrderId,
    expected_minor: i64,
    window: Duration,
) -> Result<Requested, ShopError> {
    let mut tx = pool.begin().await.or_internal("Failed to begin a refund")?;
    let row = read(&mut tx, user, order, window, true)
        .await
        .or_internal("Failed to read an order to refund")?
        .ok_or(ShopError::NotFound)?;
    if row.pack_credits.is_some() {
        credits::lock_user(&mut tx, user)
            .await
            .or_internal("Failed to lock an account")?;
    }
    let pack = pack_position(&mut tx, user, &row)
        .await
        .or_internal("Failed to read a pack's credits")?;
    if just_refunded(&mut tx, row.id, expected_minor).await? {
        // A second click that came after the first one's refund went through (the order may
        // not show it yet, if Stripe's answer did not carry the charge).
        return Ok(Requested::Refunded);
    }
    let request = match offer(&row, pack) {
        // A second click while the first is on its way: sent again only if no one is at it
        // (the claim decides), so a request whose sender died is not left to the job alone.
        RefundOffer::InProgress => {
            let pending = row.pending_request.ok_or(ShopError::Internal)?;
            drop(tx);
            return send(pool, stripe, pending).await;
        }
        RefundOffer::Available {
            amount,
            credits_back,
            ..
        } => {
            if amount.minor() != expected_minor {
                return Err(ShopError::Invalid(REFUND_CHANGED.into()));
            }
            let credits = credits_back.unwrap_or(0);
            let id = sqlx::query_scalar!(
                "insert into refund_request (order_id, amount_minor, credits)
                 values ($1, $2, $3) returning id",
                row.id,
                amount.minor(),
                credits
            )
            .fetch_one(&mut *tx)
            .await
            .or_internal("Failed to record a refund request")?;
            if credits > 0 {
                credits::take_back_for_request(&mut tx, user, row.id, credits, id)
                    .await
                    .or_internal("Failed to take back a pack's credits")?;
            }
            id
        }
        RefundOffer::Unavailable(why) => return Err(ShopError::Invalid(why)),
        RefundOffer::None => return Err(ShopError::Invalid(NOT_REFUNDABLE.into())),
    };
    tx.commit()
        .await
        .or_internal("Failed to record a refund request")?;
    tracing::info!(request, "refund requested");
    send(pool, stripe, request).await
}

/// A refund an admin makes from `/admin/orders`: `typed_amount` (as the admin typed it, in
/// the order's currency) of what is left of `order`'s
/// payment, never more, and with `revoke` the product leaves the buyer's library once it is
/// refunded (a full refund always takes it out). `form_key` is the form's own: the same form
/// posted again (a double click, a reload) finds the request it made instead of refunding
/// again. A credit pack's share of the refund leaves its buyer's balance through the ledger,
/// as a refund made on Stripe's dashboard does.
#[tracing::instrument(skip_all, fields(admin, order = %order))]
pub async fn by_admin(
    pool: &PgPool,
    stripe: &stripe::Client,
    admin: i64,
    order: &OrderId,
    typed_amount: &str,
    revoke: bool,
    form_key: &str,
) -> Result<Requested, ShopError> {
    let mut tx = pool.begin().await.or_internal("Failed to begin a refund")?;
    let row = sqlx::query!(
        r#"select id, status as "status: OrderStatus", amount_minor, amount_refunded_minor,
                  payment_intent_id, currency as "currency: Currency"
           from customer_order where public_id = $1
           for no key update"#,
        order.as_str()
    )
    .fetch_optional(&mut *tx)
    .await
    .or_internal("Failed to read an order to refund")?
    .ok_or(ShopError::NotFound)?;
    // After the order's lock, so a second post of one form waits for the first to be written.
    let earlier = sqlx::query_scalar!(
        "select id from refund_request where form_key = $1 and order_id = $2",
        form_key,
        row.id
    )
    .fetch_optional(&mut *tx)
    .await
    .or_internal("Failed to look for a refund request")?;
    if let Some(request) = earlier {
        drop(tx);
        return send(pool, stripe, request).await;
    }
    // A payment held for review took another amount or currency than the order's: it is
    // refunded in full on Stripe's dashboard, and that refund settles it here.
    if row.payment_intent_id.is_none() || row.amount_minor == 0 || !row.status.is_paid() {
        return Err(ShopError::Invalid(NOT_REFUNDABLE_ADMIN.into()));
    }
    // One request at a time per order: a second one, while the first is on its way, is told so
    // rather than left to the unique index.
    let under_way = sqlx::query_scalar!(
        r#"select exists (select from refund_request where order_id = $1 and status = 'pending')
           as "exists!""#,
        row.id
    )
    .fetch_one(&mut *tx)
    .await
    .or_internal("Failed to look for a refund on its way")?;
    if under_way {
        return Err(ShopError::Invalid(REFUND_UNDER_WAY.into()));
    }
    let left = row.amount_minor - row.amount_refunded_minor;
    let amount_minor = row
        .currency
        .parse_amount(typed_amount)
        .map_err(|e| ShopError::Invalid(e.to_string()))?;
    if amount_minor <= 0 {
        return Err(ShopError::Invalid(REFUND_AMOUNT_POSITIVE.into()));
    }
    if amount_minor > left {
        return Err(ShopError::Invalid(REFUND_MORE_THAN_LEFT.into()));
    }
    let request = sqlx::query_scalar!(
        "insert into refund_request (order_id, amount_minor, requested_by, form_key, revoke)
         values ($1, $2, $3, $4, $5)
         on conflict do nothing
         returning id",
        row.id,
        amount_minor,
        admin,
        form_key,
        revoke
    )
    .fetch_optional(&mut *tx)
    .await
    .or_internal("Failed to record a refund request")?
    // The one pending request an order may have is someone else's.
    .ok_or_else(|| ShopError::Invalid(REFUND_UNDER_WAY.into()))?;
    tx.commit()
        .await
        .or_internal("Failed to record a refund request")?;
    tracing::info!(
        request,
        admin,
        amount_minor,
        revoke,
        "refund made by an admin"
    );
    send(pool, stripe, request).await
}

/// Whether a refund of `amount_minor` that the shopper asked for went through for `order` in
/// the last few minutes: then the same request again is that one, not a new one.
async fn just_refunded(
    conn: &mut PgConnection,
    order: i64,
    amount_minor: i64,
) -> Result<bool, ShopError> {
    sqlx::query_scalar!(
        r#"select exists (
               select from refund_request
               where order_id = $1 and amount_minor = $2 and status = 'succeeded'
                 and updated_at > now() - interval '10 minutes'
           ) as "exists!""#,
        order,
        amount_minor
    )
    .fetch_one(&mut *conn)
    .await
    .or_internal("Failed to look for a refund just made")
}

/// What Stripe's answer means for a request.
enum Sent {
    /// Refunded; the charge as it is now, when Stripe sent it along.
    Done {
        refund: String,
        charge: Option<Box<stripe_shared::Charge>>,
    },
    /// Stripe refused it for good (the charge cannot be refunded this way).
    Refused(String),
    /// No answer, or one that says to try again: the request stays pending.
    TryAgain(String),
}

/// The idempotency key of one attempt at a request. Stripe keeps a 5xx under its key for a
/// day, so each attempt after the first has a key of its own; before one is made, the
/// payment's refunds are searched for one an earlier attempt made after all (see
/// [`already_made`]), so a new key never refunds twice. The order's public id makes the key
/// unique to this shop's database, should two share a Stripe account.
fn attempt_key(order: &str, request: i64, attempt: i32) -> String {
    match attempt {
        0 => format!("order-{order}-refund-{request}"),
        n => format!("order-{order}-refund-{request}-{n}"),
    }
}

/// The refund an earlier attempt at `request` made, if Stripe has one (the answer was lost,
/// or was a 5xx for a refund that went through). A failed or canceled one does not count.
async fn already_made(
    stripe: &stripe::Client,
    intent: &str,
    request: i64,
) -> Result<Option<stripe_shared::Refund>, StripeError> {
    let wanted = request.to_string();
    let refunds = ListRefund::new()
        .payment_intent(intent)
        .limit(100)
        .send(stripe)
        .await?;
    Ok(refunds.data.into_iter().find(|r| {
        r.metadata.as_ref().and_then(|m| m.get("refund_request")) == Some(&wanted)
            && !matches!(r.status.as_deref(), Some("failed" | "canceled"))
    }))
}

/// A request claimed for one attempt (see [`claim`]).
struct Claimed {
    attempt: i32,
    amount_minor: i64,
    credits: i64,
    order_id: i64,
    public_id: String,
    payment_intent_id: String,
    user_id: Option<i64>,
    /// Take the product out of the buyer's library once refunded (an admin's choice).
    revoke: bool,
}

/// Claims pending request `request` for one attempt: no other process asks Stripe for it
/// until this one records the answer or two minutes pass (the Stripe client gives up on a call
/// after 30 seconds, well within). `None` if it is not pending or another process holds it. A
/// process that outlived its claim records a refusal or a retry only if no later attempt was
/// claimed since (`attempts` still its own); a refund made is recorded whoever made it.
async fn claim(pool: &PgPool, request: i64) -> Result<Option<Claimed>, sqlx::Error> {
    sqlx::query_as!(
        Claimed,
        r#"update refund_request r
           set attempts = r.attempts + 1, in_flight_until = now() + interval '2 minutes',
               updated_at = now()
           from customer_order o
           where r.id = $1 and o.id = r.order_id and r.status = 'pending'
             and o.payment_intent_id is not null
             and (r.in_flight_until is null or r.in_flight_until < now())
           returning r.attempts - 1 as "attempt!", r.amount_minor, r.credits, o.id as order_id,
                     o.public_id, o.payment_intent_id as "payment_intent_id!", o.user_id,
                     r.revoke"#,
        request
    )
    .fetch_optional(pool)
    .await
}

/// Asks Stripe for a claimed request's refund.
async fn ask_stripe(stripe: &stripe::Client, request: i64, claimed: &Claimed) -> Sent {
    let intent = claimed.payment_intent_id.as_str();
    if claimed.attempt > 0 {
        match already_made(stripe, intent, request).await {
            Ok(Some(refund)) => {
                // Made by an earlier attempt: the charge as it is now settles the order.
                let charge = payment_intents::latest_charge(stripe, intent)
                    .await
                    .ok()
                    .flatten();
                return Sent::Done {
                    refund: refund.id.as_str().to_string(),
                    charge: charge.map(Box::new),
                };
            }
            Ok(None) => {}
            Err(e) => return Sent::TryAgain(format!("{e:?}")),
        }
    }
    let Ok(key) = IdempotencyKey::new(attempt_key(&claimed.public_id, request, claimed.attempt))
    else {
        return Sent::TryAgain("bad idempotency key".into());
    };
    let answer = CreateRefund::new()
        .payment_intent(intent)
        .amount(claimed.amount_minor)
        .reason(CreateRefundReason::RequestedByCustomer)
        .metadata(HashMap::from([
            ("order_id".to_string(), claimed.public_id.clone()),
            ("refund_request".to_string(), request.to_string()),
        ]))
        .expand(vec!["charge".to_string()])
        .customize()
        .request_strategy(RequestStrategy::Idempotent(key))
        .send(stripe)
        .await;
    match answer {
        Ok(refund) if matches!(refund.status.as_deref(), Some("failed" | "canceled")) => {
            Sent::Refused(format!("the refund is {:?}", refund.status))
        }
        Ok(refund) => Sent::Done {
            refund: refund.id.as_str().to_string(),
            charge: match refund.charge {
                Some(Expandable::Object(charge)) => Some(charge),
                _ => None,
            },
        },
        Err(e) if refused_for_good(&e) => Sent::Refused(format!("{e:?}")),
        Err(e) => Sent::TryAgain(format!("{e:?}")),
    }
}

/// Sends pending request `request` to Stripe, if no other process is doing so, and records
/// the answer.
pub async fn send(
    pool: &PgPool,
    stripe: &stripe::Client,
    request: i64,
) -> Result<Requested, ShopError> {
    let Some(claimed) = claim(pool, request)
        .await
        .or_internal("Failed to claim a refund request")?
    else {
        return where_it_stands(pool, request).await;
    };
    let sent = ask_stripe(stripe, request, &claimed).await;
    let mut tx = pool
        .begin()
        .await
        .or_internal("Failed to begin recording a refund")?;
    // The order first, as every path that changes an order and its requests locks them: a
    // refund asked for meanwhile (by the shopper or an admin) then waits here, never crosswise.
    sqlx::query!(
        "select id from customer_order where id = $1 for no key update",
        claimed.order_id
    )
    .fetch_one(&mut *tx)
    .await
    .or_internal("Failed to lock a refunded order")?;
    let outcome = match sent {
        Sent::Done { refund, charge } => {
            // Recorded even over a refusal recorded meanwhile: Stripe's refund is what is.
            sqlx::query!(
                "update refund_request set status = 'succeeded', stripe_refund_id = $2,
                     in_flight_until = case when attempts = $3 then null else in_flight_until end,
                     updated_at = now()
                 where id = $1 and status <> 'succeeded'",
                request,
                refund,
                claimed.attempt + 1
            )
            .execute(&mut *tx)
            .await
            .or_internal("Failed to record a refund")?;
            match &charge {
                Some(charge) => {
                    fulfillment::settle_refund(&mut tx, charge)
                        .await
                        .or_internal("Failed to settle a refund")?;
                }
                // Its `charge.refunded` event settles the order.
                None => tracing::warn!(request, "a refund's charge was not at hand to settle"),
            }
            if claimed.revoke {
                sqlx::query!(
                    "update entitlement set revoked_at = now()
                     where order_id = $1 and revoked_at is null",
                    claimed.order_id
                )
                .execute(&mut *tx)
                .await
                .or_internal("Failed to take a refunded product out of a library")?;
            }
            if let (Some(user), true) = (claimed.user_id, claimed.credits > 0) {
                // Should credits have been given back meanwhile, the pack's share is taken
                // again.
                credits::settle_packs(&mut tx, user)
                    .await
                    .or_internal("Failed to bring a ledger up to date")?;
            }
            tracing::info!(request, %refund, "refund made");
            Ok(Requested::Refunded)
        }
        Sent::Refused(error) => {
            tracing::error!(request, %error, "Stripe refused a refund request");
            let refused = sqlx::query!(
                "update refund_request set status = 'failed', last_error = $2,
                     in_flight_until = null, updated_at = now()
                 where id = $1 and status = 'pending' and attempts = $3",
                request,
                error,
                claimed.attempt + 1
            )
            .execute(&mut *tx)
            .await
            .or_internal("Failed to record a refused refund")?
            .rows_affected();
            if let (1, Some(user), true) = (refused, claimed.user_id, claimed.credits > 0) {
                credits::lock_user(&mut tx, user)
                    .await
                    .or_internal("Failed to lock an account")?;
                credits::restore(&mut tx, user, claimed.order_id, claimed.credits, request)
                    .await
                    .or_internal("Failed to give credits back")?;
            }
            Err(ShopError::Invalid(REFUND_REFUSED.into()))
        }
        Sent::TryAgain(error) => {
            tracing::warn!(request, %error, "a refund request will be sent again");
            sqlx::query!(
                "update refund_request set last_error = $2, in_flight_until = null,
                     updated_at = now()
                 where id = $1 and status = 'pending' and attempts = $3",
                request,
                error,
                claimed.attempt + 1
            )
            .execute(&mut *tx)
            .await
            .or_internal("Failed to record a refund attempt")?;
            Ok(Requested::Pending)
        }
    };
    tx.commit().await.or_internal("Failed to record a refund")?;
    outcome
}

/// What a request not claimed for an attempt has come to.
async fn where_it_stands(pool: &PgPool, request: i64) -> Result<Requested, ShopError> {
    let status = sqlx::query_scalar!(
        r#"select status as "status: RefundRequestStatus" from refund_request where id = $1"#,
        request
    )
    .fetch_optional(pool)
    .await
    .or_internal("Failed to read a refund request")?;
    match status {
        Some(RefundRequestStatus::Succeeded) => Ok(Requested::Refunded),
        Some(RefundRequestStatus::Failed) => Err(ShopError::Invalid(REFUND_REFUSED.into())),
        Some(RefundRequestStatus::Pending) | None => Ok(Requested::Pending),
    }
}

/// Where a refund request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "refund_request_status", rename_all = "snake_case")]
enum RefundRequestStatus {
    Pending,
    Succeeded,
    Failed,
}

/// Stripe answered and will answer the same again: the request itself is refused (400, or 402
/// for the payment method). Everything else (a conflict on the key, a rate limit, an
/// authentication or permission error from a key being rolled, a 5xx, no answer) is asked
/// again later.
fn refused_for_good(err: &StripeError) -> bool {
    match err {
        StripeError::Stripe(e, status) => {
            matches!(status, 400 | 402)
                && matches!(
                    e.type_,
                    ApiErrorsType::InvalidRequestError | ApiErrorsType::CardError
                )
        }
        _ => false,
    }
}

/// Sends again every refund request still pending a minute after its last attempt and not
/// held by another process. Run by the housekeeping job.
pub async fn send_pending(pool: &PgPool, stripe: &stripe::Client) -> Result<usize, sqlx::Error> {
    let pending = sqlx::query_scalar!(
        "select id from refund_request
         where status = 'pending' and updated_at < now() - interval '1 minute'
           and (in_flight_until is null or in_flight_until < now())
         order by id limit 100"
    )
    .fetch_all(pool)
    .await?;
    let mut sent = 0;
    for request in pending {
        match send(pool, stripe, request).await {
            Ok(Requested::Refunded) => sent += 1,
            Ok(Requested::Pending) | Err(_) => {}
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paid_order() -> Row {
        Row {
            id: 1,
            public_id: "ord_x".into(),
            title: "t".into(),
            slug: "s".into(),
            kind: ProductKind::Download,
            amount_minor: 1200,
            currency: Currency::Usd,
            credits_spent: None,
            status: OrderStatus::Paid,
            amount_refunded_minor: 0,
            email: None,
            paid_at: None,
            pack_credits: None,
            dispute_status: None,
            payment_intent_id: Some("pi_1".into()),
            within_window: true,
            until: Some("2026-12-14".into()),
            pending_request: None,
        }
    }

    fn available(offer: RefundOffer) -> (i64, Option<i64>, Option<i64>) {
        match offer {
            RefundOffer::Available {
                amount,
                credits_back,
                credits_used,
                ..
            } => (amount.minor(), credits_back, credits_used),
            other => panic!("not available: {other:?}"),
        }
    }

    #[test]
    fn a_paid_file_refunds_what_is_left_of_its_payment() {
        let mut row = paid_order();
        assert_eq!(available(offer(&row, None)), (1200, None, None));
        row.status = OrderStatus::PartiallyRefunded;
        row.amount_refunded_minor = 200;
        assert_eq!(available(offer(&row, None)), (1000, None, None));
    }

    #[test]
    fn a_partly_spent_pack_refunds_only_its_unspent_part() {
        let mut row = paid_order();
        row.kind = ProductKind::Credits;
        row.amount_minor = 900;
        row.pack_credits = Some(1000);
        let pack = PackPosition {
            left: 1000,
            unspent: 600,
        };
        assert_eq!(
            available(offer(&row, Some(pack))),
            (540, Some(600), Some(400))
        );
    }

    #[test]
    fn a_fully_spent_pack_has_nothing_to_refund() {
        let mut row = paid_order();
        row.pack_credits = Some(1000);
        let pack = PackPosition {
            left: 1000,
            unspent: 0,
        };
        assert!(matches!(
            offer(&row, Some(pack)),
            RefundOffer::Unavailable(_)
        ));
    }

    #[test]
    fn no_refund_after_the_window_or_under_dispute_or_while_one_is_pending() {
        let mut late = paid_order();
        late.within_window = false;
        assert!(
            matches!(offer(&late, None), RefundOffer::Unavailable(m) if m == REFUND_WINDOW_PASSED)
        );
        let mut disputed = paid_order();
        disputed.dispute_status = Some(DisputeStatus::Open);
        assert!(matches!(
            offer(&disputed, None),
            RefundOffer::Unavailable(_)
        ));
        let mut pending = paid_order();
        pending.pending_request = Some(3);
        assert_eq!(offer(&pending, None), RefundOffer::InProgress);
    }

    #[test]
    fn free_and_credit_orders_and_unpaid_ones_offer_no_refund() {
        let mut free = paid_order();
        free.amount_minor = 0;
        free.payment_intent_id = None;
        assert_eq!(offer(&free, None), RefundOffer::None);
        let mut unlocked = paid_order();
        unlocked.credits_spent = Some(400);
        assert_eq!(offer(&unlocked, None), RefundOffer::None);
        let mut pending = paid_order();
        pending.status = OrderStatus::Pending;
        assert_eq!(offer(&pending, None), RefundOffer::None);
    }
}
