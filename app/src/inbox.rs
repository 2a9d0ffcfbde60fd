//! The inbox of Stripe events: every event the shop learns of, whether a webhook delivered it
//! or reconciliation found it in Stripe's events list, is stored here when it is settled (or,
//! when it cannot be settled yet, with why) through one path, exactly once. Delivered twice, replayed, retried from the admin or found again by
//! reconciliation, an event acts on its order once: its row is the lock, and it is marked
//! handled in the transaction that acts on it.

use serde_json::Value;

mod batch;
use batch::Queued;
pub use batch::{Settler, settle_as_batch};

use crate::domain::{Currency, OrderStatus};
use crate::fulfillment::{self, LockedOrder, SettleError};
use crate::state::AppState;

/// How an event reached the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Delivered to `POST /webhooks/stripe`, signature checked.
    Webhook,
    /// Read from Stripe's events list with the secret key (see `reconcile`).
    EventsList,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Webhook => "webhook",
            Source::EventsList => "events_list",
        }
    }
}

/// The parts of an event the inbox reads before anything else, from its JSON as delivered
/// (any other field is skipped, whatever its shape).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Envelope {
    pub id: String,
    #[serde(rename = "type")]
    pub type_: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: Option<i64>,
    #[serde(default)]
    data: Option<EnvelopeData>,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct EnvelopeData {
    #[serde(default)]
    object: Option<EnvelopeObject>,
}

/// What the inbox notes of an event's object. Read as loose JSON values: a payload of an
/// unexpected shape is still stored, and refused later by the typed reading.
#[derive(Debug, Clone, serde::Deserialize)]
struct EnvelopeObject {
    #[serde(default)]
    object: Value,
    #[serde(default)]
    id: Value,
    #[serde(default)]
    payment_intent: Value,
}

impl Envelope {
    /// The PaymentIntent the event is about, kept beside it for the admin and reconciliation.
    fn intent(&self) -> Option<&str> {
        let object = self.data.as_ref()?.object.as_ref()?;
        match object.object.as_str() {
            Some("payment_intent") => object.id.as_str(),
            _ => object.payment_intent.as_str(),
        }
    }
}

/// What taking in an event came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Acted on now (or kept unread: a type the shop settles nothing from).
    Now,
    /// Some earlier delivery, replay or retry had handled it.
    Before,
}

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// Its order is not visible yet (the event overtook the transaction that made it).
    #[error("{0}")]
    NotYet(SettleError),
    /// Stored, but the shop cannot read it (a payload this version does not understand).
    #[error("{0}")]
    Unreadable(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Stores an event and settles what it is about, in one transaction: the event's row, what
/// it changes and its "handled" mark commit together or not at all, so a delivery costs one
/// commit. An event that cannot be settled now (its order is not visible yet, it cannot be
/// read, the database failed midway) is then stored on its own with its error, for the next
/// delivery or a replay; a type the shop settles nothing from is stored as handled.
#[tracing::instrument(skip_all, fields(event_id = %envelope.id, source = source.as_str()))]
pub async fn take(
    state: &AppState,
    envelope: &Envelope,
    payload: &str,
    source: Source,
) -> Result<Handled, HandleError> {
    let incoming = Incoming {
        envelope,
        payload,
        source,
    };
    if !fulfillment::SETTLING_EVENT_TYPES.contains(&envelope.type_.as_str()) {
        incoming.store_handled(&state.pool).await?;
        return Ok(Handled::Now);
    }
    let event = match serde_json::from_str::<stripe_webhook::Event>(payload) {
        Ok(event) => event,
        Err(e) => {
            if !incoming.store_failed(&state.pool, &e.to_string()).await? {
                // An earlier version of the shop read and handled it.
                return Ok(Handled::Before);
            }
            return Err(HandleError::Unreadable(e.to_string()));
        }
    };
    // A payment's event (the most of them, after a sale) is settled in a batch with others
    // waiting (`batch`), when the settlers run.
    if fulfillment::intent_of(&event.data.object).is_none() || event.livemode != state.live_mode {
        return settle_one(state, &incoming, &event).await;
    }
    let event = match state.settler.settle(envelope, payload, source, event).await {
        Queued::Answered(outcome) => return outcome,
        Queued::NotTaken(event) => event,
        Queued::Lost => match serde_json::from_str::<stripe_webhook::Event>(payload) {
            Ok(event) => event,
            Err(e) => return Err(HandleError::Unreadable(e.to_string())),
        },
    };
    settle_one(state, &incoming, &event).await
}

/// How a delivery's transaction begins, alone or in a batch: it waits at most 2 s for a lock
/// (an order a person's transaction or a stuck connection holds), then fails and is stored
/// unhandled with why, for Stripe's retry or the inbox's replay, rather than keep a settler,
/// and every payment queued behind it, waiting.
const BEGIN_SETTLING: &str =
    "begin; set local lock_timeout = '2s'; set local statement_timeout = '10s'";

/// Settles an event on its own: claims it (and locks a payment's order in the same
/// statement), settles what it is about and commits; if that fails, stores it unhandled with
/// why.
async fn settle_one(
    state: &AppState,
    incoming: &Incoming<'_>,
    event: &stripe_webhook::Event,
) -> Result<Handled, HandleError> {
    let mut tx = state.pool.begin_with(BEGIN_SETTLING).await?;
    // A payment's event locks its order in the statement that claims the event (not an event
    // of the other Stripe mode: that one is never acted on).
    let intent =
        fulfillment::intent_of(&event.data.object).filter(|_| event.livemode == state.live_mode);
    let outcome = match incoming.claim(&mut tx, intent).await {
        Ok(None) => {
            // Ends at once the lock the claim took on the handled row.
            tx.rollback().await?;
            return Ok(Handled::Before);
        }
        Ok(Some(order)) => {
            let settled = match intent {
                Some(intent) => fulfillment::settle_locked_intent(&mut tx, intent, order)
                    .await
                    .map(drop)
                    .map_err(HandleError::from),
                None => settle_claimed(state, &mut tx, event).await,
            };
            finish(state, tx, settled).await
        }
        // The claim or the order's lock failed (a timeout, a lost connection): rolled back and
        // kept with why, as a failed settlement is.
        Err(e) => finish(state, tx, Err(e.into())).await,
    };
    if let Err(e) = &outcome {
        // The transaction is gone with everything it did; the event is kept with its error.
        // If even that fails, the caller hears of the database: a delivery is answered 5xx
        // (Stripe sends it again) and reconciliation stops before it moves past the event.
        if let Err(store) = incoming.store_failed(&state.pool, &failure_note(e)).await {
            tracing::error!(error = %e, "an event could not be settled");
            return Err(store.into());
        }
    }
    outcome
}

/// Settles a stored event once, through the same claim and settlement as a delivery: for a
/// replay of the inbox and the admin's retry.
async fn settle_stored(state: &AppState, id: &str, payload: &str) -> Result<Handled, HandleError> {
    let event = match serde_json::from_str::<stripe_webhook::Event>(payload) {
        Ok(event) => event,
        Err(e) => {
            record_failure(state, id, &e.to_string()).await?;
            return Err(HandleError::Unreadable(e.to_string()));
        }
    };
    let mut tx = state.pool.begin().await?;
    // Waits for any delivery of the same event that holds the row, then sees it handled.
    let claimed = sqlx::query_scalar!(
        r#"update stripe_event set handled_at = now(), attempts = attempts + 1, last_error = null
           where id = $1 and handled_at is null
           returning true as "claimed!""#,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .is_some();
    if !claimed {
        tx.rollback().await?;
        return Ok(Handled::Before);
    }
    let outcome = act(state, tx, &event).await;
    if let Err(e) = &outcome
        && let Err(record) = record_failure(state, id, &failure_note(e)).await
    {
        // The event stays stored and unhandled either way; only its note is missing.
        tracing::warn!(error = %record, "could not note why a stored event failed");
    }
    outcome
}

/// Settles what a claimed event is about in the transaction that claimed it, and commits. On
/// an error the transaction is rolled back, the claim with everything else.
async fn act(
    state: &AppState,
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    event: &stripe_webhook::Event,
) -> Result<Handled, HandleError> {
    let outcome = settle_claimed(state, &mut tx, event).await;
    finish(state, tx, outcome).await
}

/// Commits a claimed event's settlement, or rolls it back (the claim with everything else) on
/// an error.
async fn finish(
    state: &AppState,
    tx: sqlx::Transaction<'_, sqlx::Postgres>,
    outcome: Result<(), HandleError>,
) -> Result<Handled, HandleError> {
    match outcome {
        Ok(()) => {
            tx.commit().await?;
            // A settlement may have written a receipt or a refund notice.
            state.new_mail.written();
            Ok(Handled::Now)
        }
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, "rollback failed; the connection is dropped");
            }
            Err(e)
        }
    }
}

async fn settle_claimed(
    state: &AppState,
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    event: &stripe_webhook::Event,
) -> Result<(), HandleError> {
    if event.livemode != state.live_mode {
        // Signed with our secret but from the other mode (a test event at a live shop, or the
        // reverse): acknowledged and kept, never acted on.
        tracing::warn!(
            livemode = event.livemode,
            "event from the other Stripe mode; not acted on"
        );
        sqlx::query!(
            "update stripe_event set last_error = 'livemode does not match the shop''s keys'
             where id = $1",
            event.id.as_str()
        )
        .execute(&mut **tx)
        .await?;
        return Ok(());
    }
    Ok(fulfillment::settle_event(tx, &event.data.object)
        .await
        .map(drop)?)
}

impl From<SettleError> for HandleError {
    fn from(e: SettleError) -> Self {
        match e {
            SettleError::OrderNotVisible(_) => HandleError::NotYet(e),
            SettleError::Database(e) => HandleError::Database(e),
        }
    }
}

/// What an event's row keeps of why it was not settled.
fn failure_note(error: &HandleError) -> String {
    match error {
        HandleError::NotYet(_) => "order not visible yet".to_string(),
        HandleError::Unreadable(e) => e.clone(),
        HandleError::Database(e) => format!("database: {e}"),
    }
}

/// An event as it arrived, before it is stored: its JSON text goes to the database as it
/// came, and is kept so (`json`, checked but not rebuilt).
struct Incoming<'a> {
    envelope: &'a Envelope,
    payload: &'a str,
    source: Source,
}

impl Incoming<'_> {
    /// Stores the event as handled and takes the right to act on it, in `tx`, and for a payment
    /// (`intent`) locks in the same statement the order it pays for, as
    /// `fulfillment::lock_order` does (keep the two alike): one round trip for both on the path
    /// every payment takes.
    ///
    /// `None` when the event was handled before (nothing is locked then); otherwise the order,
    /// if there is one. A concurrent delivery of the same event waits here until this
    /// transaction ends, and then finds it handled (or, if this one rolled back, claims it
    /// itself).
    async fn claim(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        intent: Option<&stripe_shared::PaymentIntent>,
    ) -> Result<Option<Option<LockedOrder>>, sqlx::Error> {
        let e = self.envelope;
        let row = sqlx::query!(
            r#"with claim as (
                   insert into stripe_event
                       (id, type, payload, handled_at, attempts, source, created_at,
                        payment_intent_id)
                   values ($1, $2, $3::text::json, now(), 1, $4, to_timestamp($5), $6)
                   on conflict (id) do update
                       set handled_at = now(), attempts = stripe_event.attempts + 1,
                           last_error = null
                       where stripe_event.handled_at is null
                   returning 1
               )
               select o.id as "id?", o.product_id as "product_id?", o.email as "email?",
                      o.amount_minor as "amount_minor?", o.currency as "currency?: Currency",
                      o.status as "status?: OrderStatus",
                      o.amount_refunded_minor as "amount_refunded_minor?",
                      o.pack_credits as "pack_credits?"
               from claim
               left join lateral (
                   select id, product_id, email, amount_minor, currency, status,
                          amount_refunded_minor, pack_credits
                   from customer_order
                   where payment_intent_id = $7
                      or (public_id = $8 and payment_intent_id is null)
                   order by (payment_intent_id = $7) desc nulls last
                   limit 1
                   for no key update
               ) o on true"#,
            e.id,
            e.type_,
            self.payload,
            self.source.as_str(),
            e.created.map(|c| c as f64),
            e.intent(),
            intent.map(|i| i.id.as_str()),
            intent.and_then(fulfillment::order_ref)
        )
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let Some(id) = row.id else {
            return Ok(Some(None));
        };
        // The order's columns are `not null`: one missing is an error, never "no order".
        let missing =
            || sqlx::Error::Protocol("a locked order came back with a column missing".into());
        Ok(Some(Some(LockedOrder {
            id,
            product_id: row.product_id.ok_or_else(missing)?,
            email: row.email,
            amount_minor: row.amount_minor.ok_or_else(missing)?,
            currency: row.currency.ok_or_else(missing)?,
            status: row.status.ok_or_else(missing)?,
            amount_refunded_minor: row.amount_refunded_minor.ok_or_else(missing)?,
            pack_credits: row.pack_credits,
        })))
    }

    /// Stores an event the shop settles nothing from, as handled.
    async fn store_handled(&self, pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
        let e = self.envelope;
        sqlx::query!(
            "insert into stripe_event
                 (id, type, payload, handled_at, source, created_at, payment_intent_id)
             values ($1, $2, $3::text::json, now(), $4, to_timestamp($5), $6)
             on conflict (id) do nothing",
            e.id,
            e.type_,
            self.payload,
            self.source.as_str(),
            e.created.map(|c| c as f64),
            e.intent()
        )
        .execute(pool)
        .await?;
        Ok(())
    }

    /// Stores an event that was not settled, with why, for a later delivery or a replay. An
    /// event some other delivery has handled meanwhile is left as it is: then false.
    async fn store_failed(&self, pool: &sqlx::PgPool, error: &str) -> Result<bool, sqlx::Error> {
        let e = self.envelope;
        let stored = sqlx::query!(
            "insert into stripe_event
                 (id, type, payload, attempts, last_error, source, created_at, payment_intent_id)
             values ($1, $2, $3::text::json, 1, $4, $5, to_timestamp($6), $7)
             on conflict (id) do update
                 set attempts = stripe_event.attempts + 1, last_error = excluded.last_error
                 where stripe_event.handled_at is null",
            e.id,
            e.type_,
            self.payload,
            error,
            self.source.as_str(),
            e.created.map(|c| c as f64),
            e.intent()
        )
        .execute(pool)
        .await?;
        Ok(stored.rows_affected() == 1)
    }
}

/// What one replay of the inbox did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    /// Events settled now.
    pub settled: usize,
    /// Events another delivery settled while the replay ran.
    pub already: usize,
    /// Events that still cannot be settled; each keeps its error in the inbox.
    pub failing: usize,
}

/// How many unhandled events one replay takes, oldest first.
pub const REPLAY_BATCH: i64 = 500;

/// Settles every stored event that was never handled (its order was not visible yet, the
/// database failed midway, or an earlier version could not read it)
/// through the same path a delivery takes. Events younger than `min_age` are left to the
/// delivery that is probably handling them now. Safe to run at any time, from any server.
#[tracing::instrument(skip_all)]
pub async fn replay_unhandled(
    state: &AppState,
    min_age: std::time::Duration,
) -> Result<Replayed, sqlx::Error> {
    let pending = sqlx::query!(
        r#"select id, payload::text as "payload!" from stripe_event
           where handled_at is null and payload is not null
             and received_at < now() - make_interval(secs => $1)
           order by received_at
           limit $2"#,
        min_age.as_secs_f64(),
        REPLAY_BATCH
    )
    .fetch_all(&state.pool)
    .await?;
    let mut done = Replayed::default();
    for event in pending {
        match settle_stored(state, &event.id, &event.payload).await {
            Ok(Handled::Now) => done.settled += 1,
            Ok(Handled::Before) => done.already += 1,
            Err(HandleError::Database(e)) => return Err(e),
            Err(e) => {
                tracing::warn!(event_id = %event.id, error = %e, "a stored event still cannot be settled");
                done.failing += 1;
            }
        }
    }
    if done != Replayed::default() {
        tracing::info!(?done, "replayed unhandled events");
    }
    Ok(done)
}

/// What retrying one stored event came to.
#[derive(Debug)]
pub enum Retried {
    Settled(Handled),
    /// Unknown to the inbox, or its payload is gone (forgotten after handling).
    Missing,
    Failed(HandleError),
}

/// Settles one stored event now, for the admin's "retry": the same path as a replay.
pub async fn retry(state: &AppState, id: &str) -> Result<Retried, sqlx::Error> {
    let payload = sqlx::query_scalar!(
        r#"select payload::text as "payload!" from stripe_event where id = $1 and payload is not null"#,
        id
    )
    .fetch_optional(&state.pool)
    .await?;
    let Some(payload) = payload else {
        return Ok(Retried::Missing);
    };
    Ok(match settle_stored(state, id, &payload).await {
        Ok(handled) => Retried::Settled(handled),
        Err(HandleError::Database(e)) => return Err(e),
        Err(e) => Retried::Failed(e),
    })
}

async fn record_failure(state: &AppState, id: &str, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update stripe_event set attempts = attempts + 1, last_error = $2
         where id = $1 and handled_at is null",
        id,
        error
    )
    .execute(&state.pool)
    .await
    .map(|_| ())
}
