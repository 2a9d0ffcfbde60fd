//! Reconciliation: the shop stays true to Stripe when webhooks are missed. One run
//!
//! 1. settles events stored in the inbox but never handled (`inbox::replay_unhandled`);
//! 2. asks Stripe about each order still open after a grace period, and settles it from what
//!    Stripe says through the function the webhook uses (`fulfillment::settle_intent`);
//! 3. reads Stripe's events list from a cursor and passes every event the inbox has not seen
//!    through the inbox, as if it had been delivered (`inbox::take`);
//! 4. reports what it could not settle.
//!
//! Every step is idempotent (the inbox handles an event once; settling an order moves it only
//! forward), so a second run changes nothing. Runs hold an advisory lock, so several servers
//! and the command line never do the same work at once: a run that finds another under way
//! waits for it, then finds nothing left to do.

use std::time::Duration;

use stripe::StripeRequest;
use stripe_client_core::RequestBuilder;
use stripe_core::event::ListEvent;

use crate::fulfillment::{self, Settled};
use crate::inbox::{self, Envelope, HandleError, Handled, Replayed, Source};
use crate::payment_intents;
use crate::state::AppState;

/// How many open orders one run asks Stripe about; the next run takes the rest, those it has
/// waited longest for first.
pub const ORDER_BATCH: i64 = 200;
/// How far before its cursor a run reads the events list again: events made in the same
/// second, or just before a run, may appear in the list a moment later.
pub const EVENTS_OVERLAP: Duration = Duration::from_secs(5 * 60);
/// Where the first run starts reading the events list: as far back as Stripe retries a
/// webhook.
pub const FIRST_LOOKBACK: Duration = Duration::from_secs(3 * 24 * 3600);
/// The advisory lock a run holds.
const LOCK: i64 = 0x5346_5243; // "SFRC"
/// How long a run waits for another to finish before giving up: well within the job queue's
/// timeout for a whole housekeeping run.
const LOCK_WAIT: Duration = Duration::from_secs(5 * 60);

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// Stored events settled by the replay.
    pub replayed: Replayed,
    /// Open orders Stripe was asked about.
    pub orders_checked: usize,
    /// Of those, orders whose status changed.
    pub orders_settled: usize,
    /// Events in Stripe's list (of the types the shop acts on) since the cursor.
    pub events_listed: usize,
    /// Of those, events the inbox had never seen, now taken in.
    pub events_backfilled: usize,
    /// What could not be settled, and why, for a person to look at.
    pub unsettled: Vec<Unsettled>,
}

/// Something a run could not settle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsettled {
    /// An order's public id or an event's id.
    pub what: String,
    pub why: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("Stripe's events list could not be read: {0}")]
    Stripe(String),
    #[error("another reconciliation held the lock for {0:?}")]
    Busy(Duration),
}

/// Runs reconciliation once. Open orders younger than `grace` are left to the shopper who is
/// probably paying them now (and to their webhook).
#[tracing::instrument(skip_all)]
pub async fn run(state: &AppState, grace: Duration) -> Result<Reconciled, ReconcileError> {
    let Some(lock) = crate::advisory::lock_within(&state.pool, LOCK, LOCK_WAIT).await? else {
        return Err(ReconcileError::Busy(LOCK_WAIT));
    };
    let outcome = run_locked(state, grace).await;
    lock.release().await;
    let done = outcome?;
    if done.orders_settled + done.events_backfilled + done.replayed.settled > 0 {
        tracing::info!(?done, "reconciled with Stripe");
    }
    for u in &done.unsettled {
        tracing::warn!(what = %u.what, why = %u.why, "reconciliation could not settle this");
    }
    Ok(done)
}

async fn run_locked(state: &AppState, grace: Duration) -> Result<Reconciled, ReconcileError> {
    let mut done = Reconciled {
        replayed: inbox::replay_unhandled(state, grace).await?,
        ..Reconciled::default()
    };
    check_open_orders(state, grace, &mut done).await?;
    backfill_events(state, &mut done).await?;
    // Events that are stored but still cannot be settled, and payments held for review.
    let failing = sqlx::query!(
        r#"select id, coalesce(last_error, 'not handled yet') as "why!" from stripe_event
           where handled_at is null and received_at < now() - make_interval(secs => $1)
           order by received_at limit 100"#,
        grace.as_secs_f64()
    )
    .fetch_all(&state.pool)
    .await?;
    done.unsettled
        .extend(failing.into_iter().map(|e| Unsettled {
            what: e.id,
            why: e.why,
        }));
    let review = sqlx::query_scalar!(
        "select public_id from customer_order where status = 'needs_review'
         order by updated_at limit 100"
    )
    .fetch_all(&state.pool)
    .await?;
    done.unsettled
        .extend(review.into_iter().map(|id| Unsettled {
            what: id,
            why: "the amount paid does not match the order: held for review".into(),
        }));
    Ok(done)
}

/// Asks Stripe about open orders and settles each from its PaymentIntent.
async fn check_open_orders(
    state: &AppState,
    grace: Duration,
    done: &mut Reconciled,
) -> Result<(), ReconcileError> {
    let open = sqlx::query!(
        r#"select public_id, payment_intent_id as "intent!" from customer_order
           where status in ('pending', 'failed', 'processing') and payment_intent_id is not null
             and created_at < now() - make_interval(secs => $1)
           order by stripe_checked_at nulls first, id
           limit $2"#,
        grace.as_secs_f64(),
        ORDER_BATCH
    )
    .fetch_all(&state.pool)
    .await?;
    for order in open {
        done.orders_checked += 1;
        sqlx::query!(
            "update customer_order set stripe_checked_at = now() where public_id = $1",
            order.public_id
        )
        .execute(&state.pool)
        .await?;
        let intent = match payment_intents::retrieve(&state.stripe, &order.intent).await {
            Ok(intent) => intent,
            Err(_) => {
                done.unsettled.push(Unsettled {
                    what: order.public_id,
                    why: "Stripe did not answer about its payment".into(),
                });
                continue;
            }
        };
        match fulfillment::settle_intent_now(&state.pool, &intent).await {
            Ok(Settled::Changed { from, to }) => {
                tracing::info!(order = %order.public_id, ?from, ?to, "settled by reconciliation");
                state.new_mail.written();
                done.orders_settled += 1;
            }
            Ok(_) => {}
            Err(fulfillment::SettleError::Database(e)) => return Err(e.into()),
            Err(e) => done.unsettled.push(Unsettled {
                what: order.public_id,
                why: e.to_string(),
            }),
        }
    }
    Ok(())
}

/// One page of Stripe's events list, as the JSON Stripe sent: the inbox stores each event as
/// it came, as it does a delivered one. The request is async-stripe's own.
struct RawEventPage(ListEvent);

impl StripeRequest for RawEventPage {
    type Output = stripe_types::List<miniserde::json::Value>;

    fn build(&self) -> RequestBuilder {
        self.0.build()
    }
}

/// Reads Stripe's events list from the cursor (less [`EVENTS_OVERLAP`]) and takes in every
/// event the inbox has not seen, oldest first. The cursor moves only after every event read
/// has been stored, so a failure midway reads them again next time.
async fn backfill_events(state: &AppState, done: &mut Reconciled) -> Result<(), ReconcileError> {
    // Unix seconds, as the list reads them.
    let from = sqlx::query_scalar!(
        r#"select coalesce(
               (select extract(epoch from events_seen_until - make_interval(secs => $1))
                from reconcile_cursor),
               extract(epoch from now() - make_interval(secs => $2)))::bigint as "from!""#,
        EVENTS_OVERLAP.as_secs_f64(),
        FIRST_LOOKBACK.as_secs_f64()
    )
    .fetch_one(&state.pool)
    .await?;
    let types: Vec<String> = fulfillment::SETTLING_EVENT_TYPES
        .iter()
        .map(|t| t.to_string())
        .collect();
    let mut events: Vec<(Envelope, String)> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut list = ListEvent::new()
            .types(types.clone())
            .created(stripe_types::RangeQueryTs::gte(from))
            .limit(100);
        if let Some(last) = &after {
            list = list.starting_after(last.clone());
        }
        let page = RawEventPage(list)
            .customize()
            .send(&state.stripe)
            .await
            .map_err(|e| ReconcileError::Stripe(format!("{e:?}")))?;
        for raw in page.data {
            let json = miniserde::json::to_string(&raw);
            let envelope = serde_json::from_str::<Envelope>(&json)
                .map_err(|e| ReconcileError::Stripe(format!("an event without an id: {e}")))?;
            after = Some(envelope.id.clone());
            events.push((envelope, json));
        }
        if !page.has_more || after.is_none() {
            break;
        }
    }
    done.events_listed = events.len();
    let ids: Vec<String> = events.iter().map(|(e, _)| e.id.clone()).collect();
    let known = sqlx::query_scalar!("select id from stripe_event where id = any($1)", &ids)
        .fetch_all(&state.pool)
        .await?;
    let newest = events.iter().filter_map(|(e, _)| e.created).max();
    // The list is newest first; a payment is settled before its refund.
    for (envelope, json) in events.into_iter().rev() {
        if known.contains(&envelope.id) {
            continue;
        }
        match inbox::take(state, &envelope, &json, Source::EventsList).await {
            Ok(Handled::Now) => {
                tracing::info!(event_id = %envelope.id, r#type = %envelope.type_, "backfilled an event its webhook never delivered");
                done.events_backfilled += 1;
            }
            Ok(Handled::Before) => {}
            Err(HandleError::Database(e)) => return Err(e.into()),
            // Stored with its error; the replay and the report pick it up.
            Err(e) => {
                tracing::warn!(event_id = %envelope.id, error = %e, "a backfilled event cannot be settled yet");
                done.events_backfilled += 1;
            }
        }
    }
    if let Some(newest) = newest {
        sqlx::query!(
            "insert into reconcile_cursor (events_seen_until) values (to_timestamp($1))
             on conflict (id) do update
             set events_seen_until = greatest(reconcile_cursor.events_seen_until, excluded.events_seen_until),
                 updated_at = now()",
            newest as f64
        )
        .execute(&state.pool)
        .await?;
    }
    Ok(())
}
