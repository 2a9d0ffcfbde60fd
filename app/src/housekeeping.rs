//! Work no shopper asks for, run on a schedule by the server's job queue: open orders expire
//! (and their PaymentIntents are canceled, so an old client secret cannot pay an old price),
//! and client secrets and raw event payloads are forgotten after the retention period. Each
//! function is safe to run twice and from several servers at once.

use std::time::Duration;

use sqlx::PgPool;
use stripe_shared::{PaymentIntent, PaymentIntentStatus};

use crate::domain::OrderId;
use crate::fulfillment::{self, SettleError};
use crate::payment_intents;

/// How many orders one run of [`expire_orders`] looks at; the next run takes the rest.
pub const EXPIRY_BATCH: i64 = 200;

/// What one run of [`expire_orders`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// Orders closed as canceled (their intent canceled, or never made).
    pub canceled: usize,
    /// Orders whose payment turned out to be under way or done: settled instead.
    pub settled: usize,
    /// Orders left open because the shopper is paying off-line (a voucher or a bank transfer
    /// Stripe gave them instructions for): canceling would lose money on its way.
    pub waiting: usize,
    /// Orders left for the next run because Stripe or the database did not answer.
    pub failed: usize,
}

struct Stale {
    public_id: String,
    payment_intent_id: Option<String>,
}

/// Closes open orders (pending or failed) older than `ttl`. An order with a PaymentIntent is
/// closed through Stripe: the intent is canceled and the order settled from the answer. When
/// Stripe says the payment is already under way or has succeeded, the order is settled from
/// that instead, so money that arrives at the last moment is never lost; an intent waiting for
/// a voucher or a bank transfer is left open. The least recently looked-at orders come first
/// (a failure touches the order), so one order Stripe keeps refusing never blocks the rest.
#[tracing::instrument(skip_all)]
pub async fn expire_orders(
    pool: &PgPool,
    stripe: &stripe::Client,
    ttl: Duration,
) -> Result<Expiry, sqlx::Error> {
    let stale = sqlx::query_as!(
        Stale,
        "select public_id, payment_intent_id from customer_order
         where status in ('pending', 'failed') and created_at < now() - make_interval(secs => $1)
         order by updated_at
         limit $2",
        ttl.as_secs_f64(),
        EXPIRY_BATCH
    )
    .fetch_all(pool)
    .await?;
    let mut done = Expiry::default();
    for order in stale {
        let outcome = match &order.payment_intent_id {
            None => close_without_intent(pool, &order.public_id)
                .await
                .map(|_| Closed::Canceled)
                .map_err(CloseError::from),
            Some(intent) => close_through_stripe(pool, stripe, &order.public_id, intent).await,
        };
        match outcome {
            Ok(Closed::Canceled) => done.canceled += 1,
            Ok(Closed::Settled) => done.settled += 1,
            Ok(Closed::Waiting) => {
                done.waiting += 1;
                touch(pool, &order.public_id).await?;
            }
            Err(e) => {
                tracing::warn!(order = %order.public_id, error = %e, "could not expire an order; the next run tries again");
                done.failed += 1;
                touch(pool, &order.public_id).await?;
            }
        }
    }
    if done != Expiry::default() {
        tracing::info!(?done, "expired open orders");
    }
    Ok(done)
}

enum Closed {
    Canceled,
    Settled,
    Waiting,
}

/// Moves an order to the back of the expiry queue.
async fn touch(pool: &PgPool, public_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update customer_order set updated_at = now() where public_id = $1",
        public_id
    )
    .execute(pool)
    .await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
enum CloseError {
    #[error("Stripe did not answer")]
    Stripe,
    #[error("the order's public id is malformed")]
    BadId,
    #[error(transparent)]
    Settle(#[from] SettleError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// An order that never got as far as a PaymentIntent: nothing at Stripe to cancel.
async fn close_without_intent(pool: &PgPool, public_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update customer_order set status = 'canceled', updated_at = now()
         where public_id = $1 and status in ('pending', 'failed') and payment_intent_id is null",
        public_id
    )
    .execute(pool)
    .await?;
    Ok(())
}

async fn close_through_stripe(
    pool: &PgPool,
    stripe: &stripe::Client,
    public_id: &str,
    intent_id: &str,
) -> Result<Closed, CloseError> {
    let order = OrderId::parse(public_id).map_err(|_| CloseError::BadId)?;
    let current = payment_intents::retrieve(stripe, intent_id)
        .await
        .map_err(|_| CloseError::Stripe)?;
    if paying_off_line(&current) {
        return Ok(Closed::Waiting);
    }
    let latest = if cancelable(&current) {
        match payment_intents::expire(stripe, &order, intent_id).await {
            Ok(canceled) => canceled,
            Err(_) => {
                // Either the shopper paid between the two calls (Stripe refuses the cancel and
                // what it says now is what the order settles from), or the cancel failed and
                // the intent can still pay: then this run has not closed it.
                let now = payment_intents::retrieve(stripe, intent_id)
                    .await
                    .map_err(|_| CloseError::Stripe)?;
                if cancelable(&now) {
                    return Err(CloseError::Stripe);
                }
                now
            }
        }
    } else {
        current
    };
    let canceled = latest.status == PaymentIntentStatus::Canceled;
    fulfillment::settle_intent_now(pool, &latest).await?;
    Ok(if canceled {
        Closed::Canceled
    } else {
        Closed::Settled
    })
}

fn cancelable(intent: &PaymentIntent) -> bool {
    matches!(
        intent.status,
        PaymentIntentStatus::RequiresPaymentMethod
            | PaymentIntentStatus::RequiresConfirmation
            | PaymentIntentStatus::RequiresAction
    )
}

/// Whether the intent waits for money the shopper sends outside the browser: Stripe gave them
/// voucher or bank-transfer instructions (`next_action` other than 3D Secure or a redirect).
/// Such payments take days; the voucher's own expiry ends them at Stripe.
fn paying_off_line(intent: &PaymentIntent) -> bool {
    intent.status == PaymentIntentStatus::RequiresAction
        && intent
            .next_action
            .as_ref()
            .is_some_and(|a| !matches!(a.type_.as_str(), "use_stripe_sdk" | "redirect_to_url"))
}

/// What one run of [`forget_old`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Forgotten {
    pub client_secrets: u64,
    pub event_payloads: u64,
}

/// Removes what is kept only for a while: the client secrets of closed orders, and the raw
/// payloads of handled events, once older than `retention`. The rows stay (an order's
/// history, an event's id so a late duplicate is still recognised); an event not yet handled
/// keeps its payload whatever its age, since it may still settle an order.
#[tracing::instrument(skip_all)]
pub async fn forget_old(pool: &PgPool, retention: Duration) -> Result<Forgotten, sqlx::Error> {
    let secs = retention.as_secs_f64();
    let client_secrets = sqlx::query!(
        "update customer_order set client_secret = null
         where client_secret is not null
           and status not in ('pending', 'failed', 'processing')
           and created_at < now() - make_interval(secs => $1)",
        secs
    )
    .execute(pool)
    .await?
    .rows_affected();
    let event_payloads = sqlx::query!(
        "update stripe_event set payload = null
         where payload is not null and handled_at is not null
           and received_at < now() - make_interval(secs => $1)",
        secs
    )
    .execute(pool)
    .await?
    .rows_affected();
    let done = Forgotten {
        client_secrets,
        event_payloads,
    };
    if done != Forgotten::default() {
        tracing::info!(?done, "forgot data past its retention");
    }
    Ok(done)
}
