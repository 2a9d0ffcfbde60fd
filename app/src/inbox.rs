//! The inbox of Stripe events: every event the shop learns of, whether a webhook delivered it
//! or reconciliation found it in Stripe's events list, is stored here first and then settled
//! through one path, exactly once. Delivered twice, replayed, retried from the admin or found
//! again by reconciliation, an event acts on its order once.

use serde_json::Value;

use crate::fulfillment::{self, SettleError};
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

/// The parts of an event the inbox reads before anything else.
#[derive(Debug, serde::Deserialize)]
pub struct Envelope {
    pub id: String,
    #[serde(rename = "type")]
    pub type_: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: Option<i64>,
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

/// Stores an event and settles what it is about. The event is stored first and on its own, so
/// it is kept even if settling fails below; a type the shop settles nothing from is stored as
/// handled.
#[tracing::instrument(skip_all, fields(event_id = %envelope.id, source = source.as_str()))]
pub async fn take(
    state: &AppState,
    envelope: &Envelope,
    payload: Value,
    source: Source,
) -> Result<Handled, HandleError> {
    let acted_on = fulfillment::SETTLING_EVENT_TYPES.contains(&envelope.type_.as_str());
    let object = &payload["data"]["object"];
    let intent = match object["object"].as_str() {
        Some("payment_intent") => object["id"].as_str(),
        _ => object["payment_intent"].as_str(),
    }
    .map(str::to_owned);
    sqlx::query!(
        "insert into stripe_event
             (id, type, payload, handled_at, source, created_at, payment_intent_id)
         values ($1, $2, $3, case when $4 then null else now() end, $5, to_timestamp($6), $7)
         on conflict (id) do nothing",
        envelope.id,
        envelope.type_,
        payload,
        acted_on,
        source.as_str(),
        envelope.created.map(|c| c as f64),
        intent
    )
    .execute(&state.pool)
    .await?;
    if !acted_on {
        return Ok(Handled::Now);
    }
    settle_stored(state, &envelope.id, payload).await
}

/// Acts on a stored event, once: the first caller settles what it is about and marks it
/// handled in one transaction; any other (a second delivery, a replay) finds it handled.
async fn settle_stored(state: &AppState, id: &str, payload: Value) -> Result<Handled, HandleError> {
    let event: stripe_webhook::Event = match serde_json::from_value(payload) {
        Ok(event) => event,
        Err(e) => {
            record_failure(state, id, &e.to_string()).await?;
            return Err(HandleError::Unreadable(e.to_string()));
        }
    };

    let mut tx = state.pool.begin().await?;
    // Deliveries of one event queue here; the first handles it, the rest see it handled.
    let handled = sqlx::query_scalar!(
        "select handled_at from stripe_event where id = $1 for update",
        id
    )
    .fetch_one(&mut *tx)
    .await?;
    if handled.is_some() {
        return Ok(Handled::Before);
    }
    if event.livemode != state.live_mode {
        // Signed with our secret but from the other mode (a test event at a live shop, or the
        // reverse): acknowledged and kept, never acted on.
        tracing::warn!(
            livemode = event.livemode,
            "event from the other Stripe mode; not acted on"
        );
        mark_handled(&mut tx, id, Some("livemode does not match the shop's keys")).await?;
        tx.commit().await?;
        return Ok(Handled::Now);
    }
    match fulfillment::settle_event(&mut tx, &event.data.object).await {
        Ok(_) => {}
        Err(SettleError::OrderNotVisible(intent)) => {
            tx.rollback().await?;
            record_failure(state, id, "order not visible yet").await?;
            return Err(HandleError::NotYet(SettleError::OrderNotVisible(intent)));
        }
        Err(SettleError::Database(e)) => return Err(e.into()),
    }
    mark_handled(&mut tx, id, None).await?;
    tx.commit().await?;
    Ok(Handled::Now)
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

/// Settles every stored event that was never handled (the server stopped between storing and
/// settling it, its order was not visible yet, or it could not be read by an earlier version)
/// through the same path a delivery takes. Events younger than `min_age` are left to the
/// delivery that is probably handling them now. Safe to run at any time, from any server.
#[tracing::instrument(skip_all)]
pub async fn replay_unhandled(
    state: &AppState,
    min_age: std::time::Duration,
) -> Result<Replayed, sqlx::Error> {
    let pending = sqlx::query!(
        r#"select id, payload as "payload!" from stripe_event
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
        match settle_stored(state, &event.id, event.payload).await {
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
        r#"select payload as "payload!" from stripe_event where id = $1 and payload is not null"#,
        id
    )
    .fetch_optional(&state.pool)
    .await?;
    let Some(payload) = payload else {
        return Ok(Retried::Missing);
    };
    Ok(match settle_stored(state, id, payload).await {
        Ok(handled) => Retried::Settled(handled),
        Err(HandleError::Database(e)) => return Err(e),
        Err(e) => Retried::Failed(e),
    })
}

/// Marks an event handled in the transaction that acted on it, with a note when it was
/// deliberately not acted on.
async fn mark_handled(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    id: &str,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update stripe_event set handled_at = now(), attempts = attempts + 1, last_error = $2
         where id = $1",
        id,
        note
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn record_failure(state: &AppState, id: &str, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update stripe_event set attempts = attempts + 1, last_error = $2 where id = $1",
        id,
        error
    )
    .execute(&state.pool)
    .await
    .map(|_| ())
}
