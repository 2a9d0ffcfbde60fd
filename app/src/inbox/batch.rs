//! Payment events settled together. After a sale, webhooks come faster than one transaction
//! each can take them: each transaction pays for its own statements, plan starts and commit
//! (bench/RESULTS.md, 2026-12-07). A settler takes the payment events waiting when it is free
//! and settles them in one transaction: one statement claims them all, one locks their orders,
//! each order's move is decided as a single delivery decides it (`fulfillment::plan`), one
//! statement writes them all (`fulfillment::apply`), and one commit makes them durable. Each
//! delivery is answered after that commit, never before.
//!
//! Exactly once holds as for a single delivery: each event's row is claimed in the
//! transaction that acts on it. Two copies of an event in one batch settle it once (the second
//! is answered as a later delivery is). If anything in a batch fails (an order not visible
//! yet, a database error), the whole batch is rolled back and each of its deliveries goes
//! through the single path, which stores a failure with its event.
//!
//! Locks are taken in one order in every batch (event rows, then orders, then the accounts
//! whose credit packs were paid, each by id), so two batches do not deadlock each other on
//! them. (An order's second event in a batch is settled after the others, and may lock its
//! account out of that order; should that ever deadlock, Postgres ends one batch and its
//! events are settled one by one.)

use std::sync::{Arc, OnceLock};

use stripe_shared::PaymentIntent;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::{Envelope, HandleError, Handled, Incoming, Source};
use crate::domain::{Currency, OrderStatus};
use crate::fulfillment::{self, LockedOrder};
use crate::state::AppState;

/// The most deliveries one transaction settles.
const MOST: usize = 64;
/// How many batches are settled at once. Two: while one waits for its commit, the next is
/// under way.
const SETTLERS: usize = 2;
/// Deliveries that may wait for a settler; a delivery beyond them waits to be queued.
const WAITING: usize = 4096;

/// A payment event waiting to be settled with others.
pub(super) struct Delivery {
    pub(super) envelope: Envelope,
    pub(super) payload: String,
    pub(super) source: Source,
    pub(super) event: stripe_webhook::Event,
    reply: oneshot::Sender<Result<Handled, HandleError>>,
}

/// The queue to the settlers, once they run (`Settler::start`). Until then, and if they have
/// stopped, every event is settled on its own.
#[derive(Clone, Default)]
pub struct Settler(Arc<OnceLock<mpsc::Sender<Delivery>>>);

impl Settler {
    /// Starts the settlers of `state` (once; a second call does nothing).
    pub fn start(state: &AppState) {
        let (queue, waiting) = mpsc::channel(WAITING);
        if state.settler.0.set(queue).is_err() {
            return;
        }
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..SETTLERS {
            tokio::spawn(settle_waiting(state.clone(), waiting.clone()));
        }
    }

    /// Settles `event` in the next batch, or gives it back if no settler runs.
    pub(super) async fn settle(
        &self,
        envelope: &Envelope,
        payload: &str,
        source: Source,
        event: stripe_webhook::Event,
    ) -> Result<Result<Handled, HandleError>, stripe_webhook::Event> {
        let Some(queue) = self.0.get() else {
            return Err(event);
        };
        let (reply, answer) = oneshot::channel();
        let delivery = Delivery {
            envelope: envelope.clone(),
            payload: payload.to_owned(),
            source,
            event,
            reply,
        };
        if let Err(mpsc::error::SendError(delivery)) = queue.send(delivery).await {
            return Err(delivery.event);
        }
        // A settler answers every delivery it takes; none is gone unless its task panicked.
        Ok(answer
            .await
            .unwrap_or(Err(HandleError::Database(sqlx::Error::WorkerCrashed))))
    }
}

/// One settler: takes whatever deliveries are waiting (up to [`MOST`]) and settles them.
async fn settle_waiting(state: AppState, waiting: Arc<Mutex<mpsc::Receiver<Delivery>>>) {
    let mut batch = Vec::with_capacity(MOST);
    loop {
        {
            let mut waiting = waiting.lock().await;
            if waiting.recv_many(&mut batch, MOST).await == 0 {
                return;
            }
        }
        settle_batch(&state, std::mem::take(&mut batch)).await;
    }
}

/// Settles `batch` in one transaction and answers each delivery; if that fails, settles each
/// on its own.
async fn settle_batch(state: &AppState, mut batch: Vec<Delivery>) {
    batch.sort_by(|a, b| a.envelope.id.cmp(&b.envelope.id));
    let mut firsts: Vec<Delivery> = Vec::with_capacity(batch.len());
    let mut copies = Vec::new();
    for delivery in batch {
        match firsts.last() {
            Some(first) if first.envelope.id == delivery.envelope.id => copies.push(delivery),
            _ => firsts.push(delivery),
        }
    }
    match together(state, &firsts).await {
        Ok(outcomes) => {
            if outcomes.contains(&Handled::Now) {
                // A settlement may have written a receipt or a refund notice.
                state.new_mail.written();
            }
            for (delivery, outcome) in firsts.into_iter().zip(outcomes) {
                let _ = delivery.reply.send(Ok(outcome));
            }
            for copy in copies {
                // Its first copy in the batch handled it.
                let _ = copy.reply.send(Ok(Handled::Before));
            }
        }
        Err(e) => {
            match &e {
                // An event ahead of its order: the single path stores it for a later delivery.
                HandleError::NotYet(_) => tracing::debug!(
                    error = %e,
                    events = firsts.len(),
                    "a batch names an order not visible yet; each event is settled on its own"
                ),
                _ => tracing::warn!(
                    error = %e,
                    events = firsts.len(),
                    "a batch of events was rolled back; each is settled on its own"
                ),
            }
            for delivery in firsts.into_iter().chain(copies) {
                let state = state.clone();
                tokio::spawn(async move {
                    let incoming = Incoming {
                        envelope: &delivery.envelope,
                        payload: &delivery.payload,
                        source: delivery.source,
                    };
                    let outcome = super::settle_one(&state, &incoming, &delivery.event).await;
                    let _ = delivery.reply.send(outcome);
                });
            }
        }
    }
}

/// An order locked for a batch, with what the batch finds it by.
struct Found {
    order: Option<LockedOrder>,
    public_id: String,
    payment_intent_id: Option<String>,
}

/// Claims and settles `batch` (distinct events, sorted by id) in one transaction, and commits:
/// each event's outcome, in the batch's order. Nothing is kept if it fails.
#[tracing::instrument(skip_all, fields(events = batch.len()))]
async fn together(state: &AppState, batch: &[Delivery]) -> Result<Vec<Handled>, HandleError> {
    let intents: Vec<&PaymentIntent> = batch
        .iter()
        .map(|d| {
            fulfillment::intent_of(&d.event.data.object).ok_or_else(|| {
                HandleError::Unreadable("a batched event is not about a payment".into())
            })
        })
        .collect::<Result<_, _>>()?;
    let mut tx = state.pool.begin().await?;
    let claimed = claim(&mut tx, batch).await?;
    let mine: Vec<&PaymentIntent> = intents
        .iter()
        .zip(&claimed)
        .filter_map(|(intent, claimed)| claimed.then_some(*intent))
        .collect();
    let mut orders = lock_orders(&mut tx, &mine).await?;
    // Each claimed event's order, found as the single path finds it: by its intent, or else by
    // the order its metadata names that has no intent yet. An order's first event in the batch
    // is decided here, and all of those moves are written in one statement; a later event of
    // the same order is settled after that, reading the order again (the first may have moved
    // it, or given it its intent).
    let mut moves = Vec::new();
    let mut later = Vec::new();
    for intent in &mine {
        let found = orders
            .iter()
            .position(|o| o.payment_intent_id.as_deref() == Some(intent.id.as_str()))
            .or_else(|| {
                let named = fulfillment::order_ref(intent)?;
                orders
                    .iter()
                    .position(|o| o.payment_intent_id.is_none() && o.public_id == named)
            });
        let Some(i) = found else {
            // Not this shop's payment: acknowledged and left. Or one naming an order not
            // visible yet: the batch goes down the single path before anything is written.
            fulfillment::found(None, intent.id.as_str(), fulfillment::order_ref(intent))?;
            continue;
        };
        match orders[i].order.take() {
            Some(order) => {
                if let fulfillment::Plan::Move(to) = fulfillment::plan(intent, order) {
                    moves.push(to);
                }
            }
            None => later.push(*intent),
        }
    }
    fulfillment::apply(&mut tx, &moves).await?;
    for intent in later {
        fulfillment::settle_intent(&mut tx, intent).await?;
    }
    tx.commit().await?;
    Ok(claimed
        .into_iter()
        .map(|claimed| {
            if claimed {
                Handled::Now
            } else {
                Handled::Before
            }
        })
        .collect())
}

/// Stores the batch's events as handled and takes the right to act on each, as
/// `Incoming::claim` does for one (without locking its order): whether each was claimed now,
/// in the batch's order. An event handled before is left as it is.
async fn claim(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    batch: &[Delivery],
) -> Result<Vec<bool>, sqlx::Error> {
    let ids: Vec<&str> = batch.iter().map(|d| d.envelope.id.as_str()).collect();
    let types: Vec<&str> = batch.iter().map(|d| d.envelope.type_.as_str()).collect();
    let payloads: Vec<&str> = batch.iter().map(|d| d.payload.as_str()).collect();
    let sources: Vec<&str> = batch.iter().map(|d| d.source.as_str()).collect();
    let created: Vec<Option<f64>> = batch
        .iter()
        .map(|d| d.envelope.created.map(|c| c as f64))
        .collect();
    let intents: Vec<Option<&str>> = batch.iter().map(|d| d.envelope.intent()).collect();
    // Inserted in the batch's order (by event id), as every batch does.
    let claimed = sqlx::query_scalar!(
        r#"insert into stripe_event
               (id, type, payload, handled_at, attempts, source, created_at, payment_intent_id)
           select e.id, e.type, e.payload::json, now(), 1, e.source, to_timestamp(e.created),
                  e.intent
           from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::text[])
                with ordinality as e(id, type, payload, source, created, intent, n)
           order by e.n
           on conflict (id) do update
               set handled_at = now(), attempts = stripe_event.attempts + 1, last_error = null
               where stripe_event.handled_at is null
           returning id"#,
        &ids as &[&str],
        &types as &[&str],
        &payloads as &[&str],
        &sources as &[&str],
        &created as &[Option<f64>],
        &intents as &[Option<&str>]
    )
    .fetch_all(&mut **tx)
    .await?;
    let claimed: std::collections::HashSet<String> = claimed.into_iter().collect();
    Ok(ids.iter().map(|id| claimed.contains(*id)).collect())
}

/// Locks the orders `intents` pay for, in order of their ids, as `fulfillment::lock_order`
/// locks one: by intent, or by the order named in the metadata that has no intent yet.
async fn lock_orders(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    intents: &[&PaymentIntent],
) -> Result<Vec<Found>, sqlx::Error> {
    if intents.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = intents.iter().map(|i| i.id.as_str()).collect();
    let named: Vec<&str> = intents
        .iter()
        .filter_map(|i| fulfillment::order_ref(i))
        .collect();
    let rows = sqlx::query!(
        r#"select id, product_id, email, amount_minor, currency as "currency: Currency",
                  status as "status: OrderStatus", amount_refunded_minor, pack_credits,
                  public_id, payment_intent_id
           from customer_order
           where payment_intent_id = any($1) or (public_id = any($2) and payment_intent_id is null)
           order by id
           for no key update"#,
        &ids as &[&str],
        &named as &[&str]
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Found {
            public_id: row.public_id,
            payment_intent_id: row.payment_intent_id,
            order: Some(LockedOrder {
                id: row.id,
                product_id: row.product_id,
                email: row.email,
                amount_minor: row.amount_minor,
                currency: row.currency,
                status: row.status,
                amount_refunded_minor: row.amount_refunded_minor,
                pack_credits: row.pack_credits,
            }),
        })
        .collect())
}

/// Settles `payloads` (events as delivered, signature checked) as one batch, as a settler does
/// the deliveries waiting for it, and answers each in their order: for tests and tools, which
/// cannot time deliveries into one batch. Each must be a payment's event of the shop's mode.
pub async fn settle_as_batch(
    state: &AppState,
    payloads: &[&str],
) -> Vec<Result<Handled, HandleError>> {
    let mut answers = Vec::with_capacity(payloads.len());
    let mut batch = Vec::with_capacity(payloads.len());
    for payload in payloads {
        let read = serde_json::from_str::<Envelope>(payload)
            .and_then(|envelope| Ok((envelope, serde_json::from_str(payload)?)));
        let (reply, answer) = oneshot::channel();
        match read {
            Ok((envelope, event)) => batch.push(Delivery {
                envelope,
                payload: payload.to_string(),
                source: Source::Webhook,
                event,
                reply,
            }),
            Err(e) => {
                let _ = reply.send(Err(HandleError::Unreadable(e.to_string())));
            }
        }
        answers.push(answer);
    }
    settle_batch(state, batch).await;
    let mut outcomes = Vec::with_capacity(answers.len());
    for answer in answers {
        outcomes.push(
            answer
                .await
                .unwrap_or(Err(HandleError::Database(sqlx::Error::WorkerCrashed))),
        );
    }
    outcomes
}
