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
//! is answered as a later delivery is). An event whose order is not visible yet is stored
//! unhandled with why, in the same transaction, and answered so that Stripe retries it. If
//! anything else in a batch fails (a database error, a lock held too long), the whole batch is
//! rolled back and each of its deliveries goes through the single path, which stores a failure
//! with its event. A lone delivery is a batch of one: on the settlers' own connections, kept
//! open and ready (`settlers_pool`), it answers faster than the single path on the shop's pool
//! (at 300/s offered, p99 4.1-4.2 ms against 4.5-6.2; bench/RESULTS.md, session 18).
//!
//! Locks are taken in one order in every batch (event rows by time and id, then orders by id,
//! then the accounts whose credit packs were paid, by id), so two batches do not deadlock each
//! other on them. (An order's second event in a batch is settled after the others, and may
//! lock its account out of that order; should that ever deadlock, Postgres ends one batch and
//! its events are settled one by one.) An event some earlier delivery handled stays locked
//! until its batch ends, where the single path lets it go at once: its copy waits that long.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use stripe_shared::PaymentIntent;
use tokio::sync::{Mutex, mpsc, oneshot};
use tracing::Instrument;

use super::{Envelope, HandleError, Handled, Incoming, Source};
use crate::domain::{Currency, OrderStatus};
use crate::fulfillment::{self, LockedOrder};
use crate::state::AppState;

/// The most deliveries one transaction settles.
const MAX_BATCH: usize = 64;
/// How many batches are settled at once. Two: while one waits for its commit, the next is
/// under way.
const SETTLERS: usize = 2;
/// Deliveries that may wait for a settler; a delivery beyond them waits to be queued.
const QUEUE_CAPACITY: usize = 4096;
/// How long a settler's connection may sit unused before it is checked (a round trip) as it
/// is taken, so that one dropped while idle is found then rather than by a batch.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(30);
/// The longest a batch may take. Past it (a connection that stopped answering without being
/// closed), the batch is given up and each delivery settled on its own: whatever the batch
/// committed is then found handled, and nothing else was kept.
const BATCH_DEADLINE: Duration = Duration::from_secs(12);

/// A payment event waiting to be settled with others.
struct Delivery {
    envelope: Envelope,
    payload: String,
    source: Source,
    event: stripe_webhook::Event,
    /// The delivery's own span (its request), for what is logged of it on the single path.
    span: tracing::Span,
    reply: oneshot::Sender<Result<Handled, HandleError>>,
}

impl Delivery {
    /// A delivery of `event` made in the current span, and where its answer will come.
    fn new(
        envelope: Envelope,
        payload: String,
        source: Source,
        event: stripe_webhook::Event,
    ) -> (Self, oneshot::Receiver<Result<Handled, HandleError>>) {
        let (reply, answer) = oneshot::channel();
        let delivery = Delivery {
            envelope,
            payload,
            source,
            event,
            span: tracing::Span::current(),
            reply,
        };
        (delivery, answer)
    }

    /// Settles the delivery on its own, through the single path, and answers it.
    async fn settle_alone(self, state: AppState) {
        let incoming = Incoming {
            envelope: &self.envelope,
            payload: &self.payload,
            source: self.source,
        };
        let outcome = super::settle_one(&state, &incoming, &self.event)
            .instrument(self.span.clone())
            .await;
        let _ = self.reply.send(outcome);
    }
}

/// The queue to the settlers, once they run (`Settler::start`). Until then, and if they have
/// stopped, every event is settled on its own.
#[derive(Clone, Default)]
pub struct Settler(Arc<OnceLock<mpsc::Sender<Delivery>>>);

/// What became of an event handed to the settlers.
pub(super) enum Queued {
    Answered(Result<Handled, HandleError>),
    /// No settler runs: the event, to be settled on its own.
    NotTaken(stripe_webhook::Event),
    /// Its batch stopped before answering (a panic, logged). Whatever it did is rolled back
    /// unless it had committed; the event is to be settled on its own, where it is then found
    /// handled or settled now.
    Lost,
}

impl Settler {
    /// Starts the settlers of `state` (once; a second call does nothing).
    pub fn start(state: &AppState) {
        let (queue, waiting) = mpsc::channel(QUEUE_CAPACITY);
        if state.settler.0.set(queue).is_err() {
            return;
        }
        let waiting = Arc::new(Mutex::new(waiting));
        let connections = settlers_pool(&state.pool);
        for _ in 0..SETTLERS {
            tokio::spawn(settle_waiting(
                state.clone(),
                connections.clone(),
                waiting.clone(),
            ));
        }
    }

    /// Settles `event` in the next batch.
    pub(super) async fn settle(
        &self,
        envelope: &Envelope,
        payload: &str,
        source: Source,
        event: stripe_webhook::Event,
    ) -> Queued {
        let Some(queue) = self.0.get() else {
            return Queued::NotTaken(event);
        };
        let (delivery, answer) = Delivery::new(envelope.clone(), payload.to_owned(), source, event);
        if let Err(mpsc::error::SendError(delivery)) = queue.send(delivery).await {
            return Queued::NotTaken(delivery.event);
        }
        match answer.await {
            Ok(outcome) => Queued::Answered(outcome),
            Err(_) => Queued::Lost,
        }
    }
}

/// The settlers' own connections, one each, beside the shop's pool (with the same address and
/// options, named `storefront-settler` in `pg_stat_activity`), opened at start and kept. Two
/// things a batch would otherwise pay for (bench/RESULTS.md, 2026-12-07, session 18):
/// - A connection new to the batch statements first parses them, looks up their types (a
///   round trip each) and fills its catalog caches: 5-15 ms for its first batch. Out of the
///   shop's pool of 16, the first burst after a quiet spell found a cold connection for batch
///   after batch, which put most of its p99 into its first 150 ms. The settlers' two are
///   readied as they open (`warm_up`).
/// - The shop's pool checks every idle connection with a round trip before handing it out.
///   A settler's connection is checked only after [`CHECK_AFTER_IDLE`] unused. Should one have
///   died sooner (a restart of Postgres), its batch fails and each delivery is settled on its
///   own through the shop's pool, whose check stands; the dead connection is dropped when it
///   is handed back, and another opened.
///
/// The database sees these two connections beyond `DATABASE_POOL_SIZE`.
fn settlers_pool(shop: &sqlx::PgPool) -> sqlx::PgPool {
    let options = (*shop.connect_options())
        .clone()
        .application_name("storefront-settler");
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(SETTLERS as u32)
        .min_connections(SETTLERS as u32)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|connection, taken| {
            Box::pin(async move {
                if taken.idle_for > CHECK_AFTER_IDLE {
                    sqlx::Connection::ping(connection).await?;
                }
                Ok(true)
            })
        })
        .after_connect(|connection, _| Box::pin(warm_up(connection)))
        .connect_lazy_with(options)
}

/// Readies a new settler's connection: the statements every batch runs (its claim, its
/// orders' lock, its moves) run once with nothing in them, in a transaction rolled back, so
/// the connection has them parsed, their types looked up and its catalog caches filled. Best
/// effort: should the database refuse them (read-only after a failover, a migration holding a
/// table), the connection is used as it is, and only a connection that failed is refused.
async fn warm_up(connection: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    let mut tx = connection.begin_with(super::BEGIN_SETTLING).await?;
    let readied = async {
        claim(&mut tx, &[]).await?;
        lock_order_rows(&mut tx, &[], &[]).await?;
        fulfillment::prepare(&mut tx).await
    }
    .await;
    tx.rollback().await?;
    if let Err(e) = readied {
        if matches!(
            e,
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_)
        ) {
            return Err(e);
        }
        tracing::warn!(error = %e, "a settler's connection could not be readied; used as it is");
    }
    Ok(())
}

/// One settler: takes whatever deliveries are waiting (up to [`MAX_BATCH`]) and settles them
/// on `connections`. Each batch runs as a task of its own, so a panic ends that batch (its
/// deliveries are then settled one by one by their requests), not the settler.
async fn settle_waiting(
    state: AppState,
    connections: sqlx::PgPool,
    waiting: Arc<Mutex<mpsc::Receiver<Delivery>>>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        {
            let mut waiting = waiting.lock().await;
            if waiting.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return;
            }
        }
        let events = batch.len();
        let settling = tokio::spawn(settle_batch(
            state.clone(),
            connections.clone(),
            std::mem::take(&mut batch),
        ));
        if let Err(e) = settling.await {
            tracing::error!(error = %e, events, "a batch of events stopped before it was answered");
        }
    }
}

/// Settles `batch` in one transaction on one of `connections` and answers each delivery; if
/// that fails, settles each on its own through the shop's pool (and waits for them, so a
/// failing database is not handed more at once than a batch).
async fn settle_batch(state: AppState, connections: sqlx::PgPool, mut batch: Vec<Delivery>) {
    // By time, then id: an order's events are settled in the order they happened (as far as
    // Stripe's seconds tell), and every batch claims event rows in one order.
    batch.sort_by(|a, b| {
        (a.envelope.created, &a.envelope.id).cmp(&(b.envelope.created, &b.envelope.id))
    });
    let mut firsts: Vec<Delivery> = Vec::with_capacity(batch.len());
    let mut copies = Vec::new();
    for delivery in batch {
        match firsts.last() {
            Some(first) if first.envelope.id == delivery.envelope.id => copies.push(delivery),
            _ => firsts.push(delivery),
        }
    }
    let mut alone = tokio::task::JoinSet::new();
    let settled =
        match tokio::time::timeout(BATCH_DEADLINE, together(&state, &connections, &firsts)).await {
            Ok(settled) => settled.map_err(|e| e.to_string()),
            Err(_) => Err(format!("no answer from the database in {BATCH_DEADLINE:?}")),
        };
    match settled {
        Ok(outcomes) => {
            if outcomes.iter().any(|o| matches!(o, Ok(Handled::Now))) {
                // A settlement may have written a receipt or a refund notice.
                state.new_mail.written();
            }
            let mut settled = std::collections::HashSet::new();
            for (delivery, outcome) in firsts.into_iter().zip(outcomes) {
                if outcome.is_ok() {
                    settled.insert(delivery.envelope.id.clone());
                }
                let _ = delivery.reply.send(outcome);
            }
            for copy in copies {
                if settled.contains(&copy.envelope.id) {
                    // Its first copy in the batch handled it, or found it handled.
                    let _ = copy.reply.send(Ok(Handled::Before));
                } else {
                    // Its first copy could not be settled: this one is answered as a delivery
                    // of it on its own would be, never as done.
                    alone.spawn(copy.settle_alone(state.clone()));
                }
            }
        }
        Err(e) => {
            tracing::warn!(
                error = %e,
                events = firsts.len(),
                "a batch of events was rolled back; each is settled on its own"
            );
            for delivery in firsts.into_iter().chain(copies) {
                alone.spawn(delivery.settle_alone(state.clone()));
            }
        }
    }
    while let Some(done) = alone.join_next().await {
        if let Err(e) = done {
            tracing::error!(error = %e, "an event settled on its own stopped before it was answered");
        }
    }
}

/// An order locked for a batch, with what the batch finds it by.
struct Found {
    order: Option<LockedOrder>,
    public_id: String,
    payment_intent_id: Option<String>,
}

/// Claims and settles `batch` (distinct events, in the order every batch takes them) in one
/// transaction, and commits: each event's outcome, in the batch's order. An event whose order
/// is not visible yet is stored unhandled with why, as the single path stores it. Nothing is
/// kept if it fails.
#[tracing::instrument(skip_all, fields(events = batch.len()), err)]
async fn together(
    state: &AppState,
    connections: &sqlx::PgPool,
    batch: &[Delivery],
) -> Result<Vec<Result<Handled, HandleError>>, HandleError> {
    let intents: Vec<&PaymentIntent> = batch
        .iter()
        .map(|d| {
            fulfillment::intent_of(&d.event.data.object)
                .filter(|_| d.event.livemode == state.live_mode)
                .ok_or_else(|| {
                    HandleError::Unreadable("a batched event is not a payment of this mode".into())
                })
        })
        .collect::<Result<_, _>>()?;
    let mut tx = connections.begin_with(super::BEGIN_SETTLING).await?;
    let claimed = claim(&mut tx, batch).await?;
    let mut outcomes: Vec<Result<Handled, HandleError>> = claimed
        .iter()
        .map(|&claimed| {
            Ok(if claimed {
                Handled::Now
            } else {
                Handled::Before
            })
        })
        .collect();
    let mine: Vec<usize> = (0..batch.len()).filter(|&i| claimed[i]).collect();
    let mut orders = lock_orders(&mut tx, mine.iter().map(|&i| intents[i])).await?;
    // Each claimed event's order, found as the single path finds it: by its intent, or else by
    // the order its metadata names that has no intent yet. An order's first event in the batch
    // is decided here, and all of those moves are written in one statement; a later event of
    // the same order is settled after that, reading the order again (the first may have moved
    // it, or given it its intent).
    let mut moves = Vec::new();
    let mut later = Vec::new();
    let mut not_yet = Vec::new();
    for i in mine {
        let intent = intents[i];
        let found = orders
            .iter()
            .position(|o| o.payment_intent_id.as_deref() == Some(intent.id.as_str()))
            .or_else(|| {
                let named = fulfillment::order_ref(intent)?;
                orders
                    .iter()
                    .position(|o| o.payment_intent_id.is_none() && o.public_id == named)
            });
        let Some(found) = found else {
            // Not this shop's payment: acknowledged and left. Or one that names an order not
            // visible yet: kept for a later delivery.
            if let Err(e) =
                fulfillment::found(None, intent.id.as_str(), fulfillment::order_ref(intent))
            {
                not_yet.push(batch[i].envelope.id.as_str());
                outcomes[i] = Err(e.into());
            }
            continue;
        };
        match orders[found].order.take() {
            Some(order) => {
                if let fulfillment::Plan::Move(to) = fulfillment::plan(intent, order) {
                    moves.push(to);
                }
            }
            None => later.push(intent),
        }
    }
    fulfillment::apply(&mut tx, &moves).await?;
    for intent in later {
        fulfillment::settle_intent(&mut tx, intent).await?;
    }
    if !not_yet.is_empty() {
        sqlx::query!(
            "update stripe_event set handled_at = null, last_error = 'order not visible yet'
             where id = any($1)",
            &not_yet as &[&str]
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(outcomes)
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
async fn lock_orders<'a>(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    intents: impl Iterator<Item = &'a PaymentIntent>,
) -> Result<Vec<Found>, sqlx::Error> {
    let (ids, named): (Vec<&str>, Vec<Option<&str>>) = intents
        .map(|i| (i.id.as_str(), fulfillment::order_ref(i)))
        .unzip();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let named: Vec<&str> = named.into_iter().flatten().collect();
    lock_order_rows(tx, &ids, &named).await
}

/// The statement of [`lock_orders`], run even with nothing to lock.
async fn lock_order_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ids: &[&str],
    named: &[&str],
) -> Result<Vec<Found>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select id, product_id, email, amount_minor, currency as "currency: Currency",
                  status as "status: OrderStatus", amount_refunded_minor, pack_credits,
                  public_id, payment_intent_id
           from customer_order
           where payment_intent_id = any($1) or (public_id = any($2) and payment_intent_id is null)
           order by id
           for no key update"#,
        ids as &[&str],
        named as &[&str]
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
/// cannot time deliveries into one batch. A batch with any event other than a payment's of the
/// shop's mode is settled event by event, as the settlers never see one.
#[doc(hidden)]
pub async fn settle_as_batch(
    state: &AppState,
    payloads: &[&str],
) -> Vec<Result<Handled, HandleError>> {
    let mut answers = Vec::with_capacity(payloads.len());
    let mut batch = Vec::with_capacity(payloads.len());
    for payload in payloads {
        let read = serde_json::from_str::<Envelope>(payload)
            .and_then(|envelope| Ok((envelope, serde_json::from_str(payload)?)));
        let answer = match read {
            Ok((envelope, event)) => {
                let (delivery, answer) =
                    Delivery::new(envelope, payload.to_string(), Source::Webhook, event);
                batch.push(delivery);
                answer
            }
            Err(e) => {
                let (reply, answer) = oneshot::channel();
                let _ = reply.send(Err(HandleError::Unreadable(e.to_string())));
                answer
            }
        };
        answers.push(answer);
    }
    settle_batch(state.clone(), state.pool.clone(), batch).await;
    let mut outcomes = Vec::with_capacity(answers.len());
    for answer in answers {
        outcomes.push(answer.await.expect("a batch answers every delivery"));
    }
    outcomes
}
