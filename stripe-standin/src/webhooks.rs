//! Webhook deliveries: signed exactly as Stripe signs them, retried with backoff until the
//! endpoint answers 2xx, and open to a test-only control that delays, duplicates, holds (to
//! reorder) or drops them, since Stripe itself may do all of these.

use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::App;
use crate::objects::{new_id, now};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    /// Every secret signs each delivery, like Stripe during a secret roll.
    pub secrets: Vec<String>,
    /// Event types this endpoint receives; `*` or empty means all.
    pub enabled_events: Vec<String>,
}

impl Endpoint {
    pub fn new(url: String, secrets: Vec<String>, enabled_events: Vec<String>) -> Self {
        Self {
            id: new_id("we"),
            url,
            secrets,
            enabled_events,
        }
    }

    pub fn wants(&self, event_type: &str) -> bool {
        self.enabled_events.is_empty()
            || self
                .enabled_events
                .iter()
                .any(|e| e == "*" || e == event_type)
    }
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
    pub endpoint: Endpoint,
    pub generation: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Never delivered (the event stays readable through the Events API).
    Drop,
    /// The first attempt waits `delay_ms`.
    Delay,
    /// `copies` extra deliveries of the same event, sent at the same moment.
    Duplicate,
    /// Kept back until a release, which sends the held ones in the order asked for.
    Hold,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    pub action: Action,
    /// Only events of this type; all when absent.
    #[serde(default)]
    pub event_type: Option<String>,
    /// How many deliveries the rule applies to; unlimited when absent.
    #[serde(default)]
    pub times: Option<u32>,
    #[serde(default)]
    pub delay_ms: Option<u64>,
    #[serde(default)]
    pub copies: Option<u32>,
}

impl Rule {
    fn matches(&self, event_type: &str) -> bool {
        self.times != Some(0) && self.event_type.as_deref().is_none_or(|t| t == event_type)
    }
}

#[derive(Debug, Clone)]
pub struct Held(pub Delivery);

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRecord {
    pub event_id: String,
    pub event_type: String,
    pub endpoint: String,
    pub attempt: u32,
    /// The HTTP status the endpoint answered, if it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
    /// `delivered`, `failed`, `dropped`, `held` or `gave_up`.
    pub outcome: &'static str,
    pub at: i64,
}

/// The `Stripe-Signature` header for a payload: one `v1` per secret. The one signer of the
/// project: the stand-in's deliveries, the server's tests and the chaos runner all sign here.
pub fn signature_header(payload: &str, secrets: &[impl AsRef<str>], timestamp: i64) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_ref().as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(format!("{timestamp}.{payload}").as_bytes());
        header.push_str(",v1=");
        header.push_str(&hex::encode(mac.finalize().into_bytes()));
    }
    header
}

#[derive(Debug, Clone, Copy, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseOrder {
    #[default]
    Fifo,
    Reverse,
    Shuffle,
}

impl App {
    /// Sends new deliveries through the control rules and on their way.
    pub fn dispatch(&self, deliveries: Vec<Delivery>) {
        for delivery in deliveries {
            let action = {
                let mut store = self.store();
                let rule = store
                    .rules
                    .iter_mut()
                    .find(|r| r.matches(&delivery.event_type));
                let action = rule.map(|r| {
                    if let Some(t) = r.times.as_mut() {
                        *t -= 1;
                    }
                    r.clone()
                });
                match action.as_ref().map(|r| &r.action) {
                    Some(Action::Drop) => {
                        log(&mut store, record(&delivery, 0, None, None, "dropped"));
                        tracing::info!(event = %delivery.event_id, "delivery dropped by a control rule");
                    }
                    Some(Action::Hold) => {
                        log(&mut store, record(&delivery, 0, None, None, "held"));
                        store.held.push(Held(delivery.clone()));
                    }
                    _ => {}
                }
                action
            };
            match action {
                Some(Rule {
                    action: Action::Drop | Action::Hold,
                    ..
                }) => {}
                Some(Rule {
                    action: Action::Delay,
                    delay_ms,
                    ..
                }) => {
                    self.spawn_delivery(delivery, Duration::from_millis(delay_ms.unwrap_or(1_000)));
                }
                Some(Rule {
                    action: Action::Duplicate,
                    copies,
                    ..
                }) => {
                    for _ in 0..=copies.unwrap_or(1) {
                        self.spawn_delivery(delivery.clone(), Duration::ZERO);
                    }
                }
                None => self.spawn_delivery(delivery, Duration::ZERO),
            }
        }
    }

    /// Sends held deliveries one after another in the order asked for; each one that fails goes
    /// on to the usual retries.
    pub fn release(&self, order: ReleaseOrder) -> usize {
        // Taken and counted under the lock, so `/_standin/deliveries/pending` never sees them
        // as neither held nor in flight.
        let counted: Vec<_> = {
            let mut store = self.store();
            let mut held: Vec<Delivery> = std::mem::take(&mut store.held)
                .into_iter()
                .map(|h| h.0)
                .collect();
            match order {
                ReleaseOrder::Fifo => {}
                ReleaseOrder::Reverse => held.reverse(),
                ReleaseOrder::Shuffle => held.shuffle(&mut rand::rng()),
            }
            held.into_iter()
                .map(|delivery| (delivery, self.delivery_started()))
                .collect()
        };
        let count = counted.len();
        let app = self.clone();
        tokio::spawn(async move {
            for (delivery, counted) in counted {
                if !app.attempt(&delivery, 1).await {
                    let app = app.clone();
                    tokio::spawn(async move {
                        app.retry_loop(delivery, 2).await;
                        drop(counted);
                    });
                }
            }
        });
        count
    }

    fn spawn_delivery(&self, delivery: Delivery, delay: Duration) {
        // Counted from now, so that a call that returned has its deliveries counted.
        let counted = self.delivery_started();
        let app = self.clone();
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if !app.attempt(&delivery, 1).await {
                app.retry_loop(delivery, 2).await;
            }
            drop(counted);
        });
    }

    async fn retry_loop(&self, delivery: Delivery, from_attempt: u32) {
        let mut attempt = from_attempt;
        loop {
            let (base, cap, max) = {
                let store = self.store();
                (
                    store.config.retry_base_ms,
                    store.config.retry_max_ms,
                    store.config.max_attempts,
                )
            };
            if attempt > max {
                log(
                    &mut self.store(),
                    record(&delivery, attempt - 1, None, None, "gave_up"),
                );
                tracing::warn!(event = %delivery.event_id, "gave up delivering after {max} attempts");
                return;
            }
            let wait = base.saturating_mul(1 << (attempt - 2).min(20)).min(cap);
            tokio::time::sleep(Duration::from_millis(wait)).await;
            if self.attempt(&delivery, attempt).await {
                return;
            }
            attempt += 1;
        }
    }

    /// One POST to the endpoint; true when it answered 2xx. Deliveries from before a reset stop.
    async fn attempt(&self, delivery: &Delivery, attempt: u32) -> bool {
        if self.store().generation != delivery.generation {
            return true;
        }
        let signature = signature_header(&delivery.payload, &delivery.endpoint.secrets, now());
        let result = self
            .http()
            .post(&delivery.endpoint.url)
            .header("content-type", "application/json; charset=utf-8")
            .header(
                "user-agent",
                "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            )
            .header("stripe-signature", signature)
            .body(delivery.payload.clone())
            .send()
            .await;
        let (status, error) = match result {
            Ok(resp) => (Some(resp.status().as_u16()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        let mut store = self.store();
        if store.generation != delivery.generation {
            return true;
        }
        log(
            &mut store,
            record(
                delivery,
                attempt,
                status,
                error,
                if ok { "delivered" } else { "failed" },
            ),
        );
        if ok && let Some(ev) = store.events.get_mut(&delivery.event_id) {
            ev.pending_webhooks = (ev.pending_webhooks - 1).max(0);
        }
        tracing::debug!(event = %delivery.event_id, attempt, ?status, "webhook delivery attempt");
        ok
    }
}

/// Appends to the delivery log, keeping only the recent history.
fn log(store: &mut crate::store::Store, entry: DeliveryRecord) {
    if store.deliveries.len() >= 10_000 {
        store.deliveries.drain(..1_000);
    }
    store.deliveries.push(entry);
}

fn record(
    d: &Delivery,
    attempt: u32,
    status: Option<u16>,
    error: Option<String>,
    outcome: &'static str,
) -> DeliveryRecord {
    DeliveryRecord {
        event_id: d.event_id.clone(),
        event_type: d.event_type.clone(),
        endpoint: d.endpoint.url.clone(),
        attempt,
        status,
        error,
        outcome,
        at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_accepted_by_async_stripe() {
        let payload = r#"{"id":"evt_1"}"#;
        let secret = "whsec_test".to_string();
        let header = signature_header(payload, std::slice::from_ref(&secret), 1_700_000_000);
        let expected =
            stripe_webhook::Webhook::generate_test_header(payload, &secret, Some(1_700_000_000));
        assert_eq!(header, expected);
    }

    #[test]
    fn several_secrets_give_several_v1_values() {
        let header = signature_header("{}", &["a", "b"], 1);
        assert_eq!(header.matches(",v1=").count(), 2);
    }
}
