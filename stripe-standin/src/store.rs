//! The stand-in's whole state: Stripe objects, events, idempotency results, webhook endpoints
//! and the delivery log. It lives in memory behind one lock, and a reset empties it.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Value, json};
use stripe_shared::{Charge, Dispute, PaymentIntent, PaymentMethod, Price, Product, Refund};

use crate::cards::TestCard;
use crate::error::ApiError;
use crate::idempotency::Keys;
use crate::params::Params;
use crate::webhooks::{DeliveryRecord, Endpoint, Held, Rule};

/// Objects of one kind, kept in creation order so lists come out newest first as on Stripe.
#[derive(Debug)]
pub struct Ordered<T> {
    items: HashMap<String, T>,
    order: Vec<String>,
}

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Self {
            items: HashMap::new(),
            order: Vec::new(),
        }
    }
}

impl<T> Ordered<T> {
    pub fn insert(&mut self, id: String, item: T) {
        if self.items.insert(id.clone(), item).is_none() {
            self.order.push(id);
        }
    }

    pub fn get(&self, id: &str) -> Option<&T> {
        self.items.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        self.items.get_mut(id)
    }

    /// Newest first.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.order
            .iter()
            .rev()
            .filter_map(|id| self.items.get(id).map(|t| (id.as_str(), t)))
    }
}

#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: String,
    pub type_: String,
    pub created: i64,
    pub body: Value,
    pub pending_webhooks: i64,
}

impl StoredEvent {
    pub fn json(&self) -> Value {
        let mut v = self.body.clone();
        v["pending_webhooks"] = json!(self.pending_webhooks);
        v
    }
}

/// What an API request did, for tests that check how the shop calls Stripe.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub id: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub idempotency_key: Option<String>,
    pub replayed: bool,
    pub key_kind: &'static str,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Config {
    /// The first retry of a failed webhook delivery waits this long; each later one twice as long.
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// Attempts per delivery before the stand-in gives up on it (Stripe keeps trying for 3 days).
    pub max_attempts: u32,
    /// When above zero, a card payment that will succeed sits in `processing` this long first.
    pub processing_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            retry_base_ms: 1_000,
            retry_max_ms: 60_000,
            max_attempts: 8,
            processing_ms: 0,
        }
    }
}

/// An upstream failure to inject: the next `times` API calls whose method and path match get
/// `status` and Stripe's `api_error`, as if Stripe failed while running them. Nothing is
/// created, and the answer is kept under the call's idempotency key as Stripe keeps a 500, so
/// a retry with the same key gets the same failure.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Fault {
    /// `POST`, `GET`, …; any method when absent.
    #[serde(default)]
    pub method: Option<String>,
    /// Matches paths that start with it, e.g. `/v1/payment_intents`.
    pub path: String,
    #[serde(default = "Fault::default_status")]
    pub status: u16,
    #[serde(default = "Fault::default_times")]
    pub times: u32,
    /// The request runs, and only then is its answer the failure: Stripe failing after it did
    /// the work (a 5xx Stripe documents as "the result is unknown"), or an answer lost on the
    /// way back.
    #[serde(default)]
    pub after: bool,
}

impl Fault {
    fn default_status() -> u16 {
        500
    }

    fn default_times() -> u32 {
        1
    }

    pub fn matches(&self, method: &str, path: &str) -> bool {
        self.times > 0
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && path.starts_with(&self.path)
    }
}

#[derive(Debug, Default)]
pub struct Store {
    pub payment_intents: Ordered<PaymentIntent>,
    pub payment_methods: Ordered<(PaymentMethod, TestCard)>,
    pub charges: Ordered<Charge>,
    pub refunds: Ordered<Refund>,
    pub disputes: Ordered<Dispute>,
    pub products: Ordered<Product>,
    pub prices: Ordered<Price>,
    pub events: Ordered<StoredEvent>,
    pub idempotency: Keys,
    pub requests: Vec<RequestRecord>,
    pub endpoints: Vec<Endpoint>,
    pub rules: Vec<Rule>,
    pub held: Vec<Held>,
    pub deliveries: Vec<DeliveryRecord>,
    /// Failures to answer the next matching API calls with (`/_standin/faults`).
    pub faults: Vec<Fault>,
    pub config: Config,
    /// Bumped by every reset, so that deliveries still being retried from before it stop.
    pub generation: u64,
}

impl Store {
    /// The status of an injected failure for this call, if one is due; it is used up.
    /// The fault to inject into this call, if one matches: its status, and whether the
    /// request runs first.
    pub fn take_fault(&mut self, method: &str, path: &str) -> Option<(u16, bool)> {
        let fault = self.faults.iter_mut().find(|f| f.matches(method, path))?;
        fault.times -= 1;
        let taken = (fault.status, fault.after);
        self.faults.retain(|f| f.times > 0);
        Some(taken)
    }

    /// Empties everything but the endpoints given on the command line and the configuration.
    pub fn reset(&mut self, keep_endpoints: Vec<Endpoint>, config: Config) {
        let generation = self.generation + 1;
        *self = Store {
            endpoints: keep_endpoints,
            config,
            generation,
            ..Store::default()
        };
    }
}

/// Where the object named by a cursor parameter sits in the list.
fn cursor_position<T>(all: &[(&str, T)], cursor: &str, param: &str) -> Result<usize, ApiError> {
    all.iter().position(|(id, _)| *id == cursor).ok_or_else(|| {
        ApiError::invalid(
            format!("No such object: '{cursor}'"),
            Some(param),
            Some("resource_missing"),
        )
    })
}

/// Stripe's cursor pagination over a newest-first sequence.
pub fn page<'a, T: 'a>(
    items: impl Iterator<Item = (&'a str, &'a T)>,
    params: &Params,
    url: &str,
    to_json: impl Fn(&T) -> Value,
) -> Result<Value, ApiError> {
    let limit = params.i64("limit")?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(
            "This value must be less than or equal to 100 (and greater than 0).",
            Some("limit"),
            None,
        ));
    }
    let limit = limit as usize;
    let all: Vec<(&str, &T)> = items.collect();
    let start_after = params.str("starting_after");
    let end_before = params.str("ending_before");
    let (window, more) = if let Some(cursor) = start_after {
        let pos = cursor_position(&all, cursor, "starting_after")?;
        let rest = &all[pos + 1..];
        (
            rest.iter().take(limit).collect::<Vec<_>>(),
            rest.len() > limit,
        )
    } else if let Some(cursor) = end_before {
        let pos = cursor_position(&all, cursor, "ending_before")?;
        let before = &all[..pos];
        let from = before.len().saturating_sub(limit);
        (before[from..].iter().collect::<Vec<_>>(), from > 0)
    } else {
        (
            all.iter().take(limit).collect::<Vec<_>>(),
            all.len() > limit,
        )
    };
    Ok(json!({
        "object": "list",
        "data": window.iter().map(|(_, t)| to_json(t)).collect::<Vec<_>>(),
        "has_more": more,
        "url": url,
    }))
}
