//! `POST /webhooks/stripe`: verifies the signature on the raw body, stores the event in the
//! inbox, and settles what it is about in the same transaction that marks it handled.

use app::fulfillment::{self, SettleError};
use app::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use secrecy::ExposeSecret;

pub mod signature {
    //! Stripe's `Stripe-Signature` scheme: `t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`,
    //! possibly with several `v1` values.

    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    /// How far a signature's timestamp may be from now, as Stripe's libraries allow.
    pub const TOLERANCE_SECS: u64 = 300;

    #[derive(Debug, PartialEq, Eq, thiserror::Error)]
    pub enum Rejected {
        #[error("the Stripe-Signature header is malformed")]
        Malformed,
        #[error("the signature timestamp is outside the tolerance")]
        Expired,
        #[error("no signature matches any configured secret")]
        NoMatch,
    }

    /// Checks `header` against every secret; passes if any `v1` matches any secret.
    pub fn verify<S: AsRef<[u8]>>(
        body: &[u8],
        header: &str,
        secrets: &[S],
        now: i64,
    ) -> Result<(), Rejected> {
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", v)) => {
                    timestamp = Some(v.parse::<i64>().map_err(|_| Rejected::Malformed)?)
                }
                Some(("v1", v)) => {
                    signatures.push(hex::decode(v).map_err(|_| Rejected::Malformed)?)
                }
                Some(_) => {}
                None => return Err(Rejected::Malformed),
            }
        }
        let timestamp = timestamp.ok_or(Rejected::Malformed)?;
        if signatures.is_empty() {
            return Err(Rejected::Malformed);
        }
        // The timestamp is the sender's: compared without arithmetic that can overflow.
        if now.abs_diff(timestamp) > TOLERANCE_SECS {
            return Err(Rejected::Expired);
        }
        for secret in secrets {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(secret.as_ref()).map_err(|_| Rejected::NoMatch)?;
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            // verify_slice compares in constant time.
            if signatures
                .iter()
                .any(|sig| mac.clone().verify_slice(sig).is_ok())
            {
                return Ok(());
            }
        }
        Err(Rejected::NoMatch)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn sign(body: &[u8], secret: &str, t: i64) -> String {
            let body = std::str::from_utf8(body).unwrap();
            stripe_standin::webhooks::signature_header(body, &[secret], t)
        }

        #[test]
        fn a_correct_signature_passes_and_any_changed_byte_fails() {
            let h = sign(b"{\"a\":1}", "whsec_x", 1000);
            assert_eq!(verify(b"{\"a\":1}", &h, &["whsec_x"], 1000), Ok(()));
            assert_eq!(
                verify(b"{\"a\":2}", &h, &["whsec_x"], 1000),
                Err(Rejected::NoMatch)
            );
            assert_eq!(
                verify(b"{\"a\":1}", &h, &["whsec_y"], 1000),
                Err(Rejected::NoMatch)
            );
        }

        #[test]
        fn an_old_or_future_timestamp_is_refused() {
            let h = sign(b"x", "s", 1000);
            assert_eq!(verify(b"x", &h, &["s"], 1000 + 301), Err(Rejected::Expired));
            assert_eq!(verify(b"x", &h, &["s"], 1000 - 301), Err(Rejected::Expired));
            assert_eq!(verify(b"x", &h, &["s"], 1300), Ok(()));
        }

        #[test]
        fn any_of_several_signatures_and_secrets_may_match() {
            let good = sign(b"x", "new", 5);
            let v1 = good.split_once(",v1=").unwrap().1;
            let header = format!("t=5,v1={},v1={v1}", "00".repeat(32));
            assert_eq!(verify(b"x", &header, &["old", "new"], 5), Ok(()));
        }

        #[test]
        fn timestamps_at_the_ends_of_the_range_are_refused_without_overflow() {
            let sig = "00".repeat(32);
            for t in [i64::MIN, i64::MAX] {
                let header = format!("t={t},v1={sig}");
                assert_eq!(
                    verify(b"x", &header, &["s"], 1_700_000_000),
                    Err(Rejected::Expired)
                );
                for now in [i64::MIN, i64::MAX] {
                    let expected = if now == t {
                        Rejected::NoMatch
                    } else {
                        Rejected::Expired
                    };
                    assert_eq!(verify(b"x", &header, &["s"], now), Err(expected));
                }
            }
        }

        #[test]
        fn malformed_headers_are_refused() {
            for h in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "garbage"] {
                assert_eq!(verify(b"x", h, &["s"], 1), Err(Rejected::Malformed), "{h}");
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    type_: String,
}

#[tracing::instrument(skip_all, fields(event_id, event_type))]
pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    if state.webhook_secrets.is_empty() {
        tracing::warn!("a webhook arrived but STRIPE_WEBHOOK_SECRET is not set: webhooks are off");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "webhooks are not configured",
        );
    }
    let Some(header) = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return (StatusCode::BAD_REQUEST, "missing signature");
    };
    let secrets: Vec<&[u8]> = state
        .webhook_secrets
        .iter()
        .map(|s| s.expose_secret().as_bytes())
        .collect();
    let now = chrono_now();
    if let Err(why) = signature::verify(&body, header, &secrets, now) {
        tracing::warn!(reason = %why, "webhook signature rejected");
        return (StatusCode::BAD_REQUEST, "invalid signature");
    }
    let Ok(envelope) = serde_json::from_slice::<Envelope>(&body) else {
        tracing::warn!("a signed webhook is not an event");
        return (StatusCode::BAD_REQUEST, "not an event");
    };
    let span = tracing::Span::current();
    span.record("event_id", envelope.id.as_str());
    span.record("event_type", envelope.type_.as_str());

    match handle(&state, &envelope, &body).await {
        Ok(Handled::Now) => (StatusCode::OK, "handled"),
        Ok(Handled::Before) => (StatusCode::OK, "already handled"),
        Err(HandleError::NotYet(e)) => {
            tracing::warn!(error = %e, "event is ahead of its order; asking Stripe to retry");
            (StatusCode::SERVICE_UNAVAILABLE, "order not found yet")
        }
        Err(HandleError::Unreadable(e)) => {
            // Kept in the inbox with its error, and answered 5xx so Stripe delivers it again:
            // once a fixed shop can read it, a later delivery settles it.
            tracing::error!(error = %e, "a signed event could not be read; kept for a retry");
            (StatusCode::INTERNAL_SERVER_ERROR, "stored, not readable")
        }
        Err(HandleError::Database(e)) => {
            tracing::error!(error = %e, "webhook handling failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "try again")
        }
    }
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

enum Handled {
    Now,
    Before,
}

#[derive(Debug, thiserror::Error)]
enum HandleError {
    #[error("{0}")]
    NotYet(SettleError),
    #[error("{0}")]
    Unreadable(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[tracing::instrument(skip_all)]
async fn handle(
    state: &AppState,
    envelope: &Envelope,
    body: &[u8],
) -> Result<Handled, HandleError> {
    let payload: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| HandleError::Unreadable(e.to_string()))?;
    // Stored first and on its own, so the event is kept even if handling fails below. A type
    // the shop settles nothing from is stored as handled.
    let acted_on = fulfillment::SETTLING_EVENT_TYPES.contains(&envelope.type_.as_str());
    sqlx::query!(
        "insert into stripe_event (id, type, payload, handled_at)
         values ($1, $2, $3, case when $4 then null else now() end)
         on conflict (id) do nothing",
        envelope.id,
        envelope.type_,
        payload,
        acted_on
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
async fn settle_stored(
    state: &AppState,
    id: &str,
    payload: serde_json::Value,
) -> Result<Handled, HandleError> {
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
