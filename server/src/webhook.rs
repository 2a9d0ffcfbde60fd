//! `POST /webhooks/stripe`: verifies the signature on the raw body, then hands the event to
//! the inbox (`app::inbox`), which stores it and settles what it is about in the same
//! transaction that marks it handled.

use app::inbox::{self, Envelope, HandleError, Handled, Source};
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
    // Read once, as the text Stripe signed: the envelope here, the typed event in the inbox,
    // and the text itself is what the inbox stores.
    let Some((envelope, payload)) = std::str::from_utf8(&body)
        .ok()
        .and_then(|text| Some((serde_json::from_str::<Envelope>(text).ok()?, text)))
    else {
        tracing::warn!("a signed webhook is not an event");
        return (StatusCode::BAD_REQUEST, "not an event");
    };
    let span = tracing::Span::current();
    span.record("event_id", envelope.id.as_str());
    span.record("event_type", envelope.type_.as_str());

    match inbox::take(&state, &envelope, payload, Source::Webhook).await {
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
