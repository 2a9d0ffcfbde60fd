//! One API call from start to answer: the key, an injected fault, the idempotency check, the
//! handler under the store's lock, and then the webhook deliveries and delayed work it left.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::App;
use crate::auth::{Access, Auth, KeyKind, authenticate, publishable_refused};
use crate::error::ApiError;
use crate::idempotency::Seen;
use crate::objects::{self, new_id};
use crate::params::Params;
use crate::store::{RequestRecord, Store, StoredEvent};
use crate::webhooks::{Delivery, Endpoint};

/// Information about the API request behind an event.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub id: Option<String>,
    pub idempotency_key: Option<String>,
}

/// Work that finishes later, outside the request (a payment leaving `processing`).
#[derive(Debug, Clone)]
pub enum Later {
    Settle {
        payment_intent: String,
        after_ms: u64,
    },
}

/// One API call's view of the store: what it read, who called, and what it leaves behind.
pub struct Tx<'a> {
    pub store: &'a mut Store,
    pub params: &'a Params,
    pub auth: &'a Auth,
    pub request: RequestInfo,
    pub base_url: &'a str,
    pub deliveries: Vec<Delivery>,
    pub later: Vec<Later>,
}

impl Tx<'_> {
    /// Records an event about `object` and queues its deliveries. The event passes through
    /// async-stripe's webhook `Event` type, so it is what `Webhook::construct_event` reads.
    pub fn emit(&mut self, type_: &str, object: Value) -> Result<(), ApiError> {
        self.emit_with(type_, object, None)
    }

    /// An `*.updated` event: `data.previous_attributes` holds the values of the top-level
    /// fields that changed, as they were `before`.
    pub fn emit_update(
        &mut self,
        type_: &str,
        object: Value,
        before: &Value,
    ) -> Result<(), ApiError> {
        let previous: serde_json::Map<String, Value> = before
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| object.get(k.as_str()) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.emit_with(type_, object, Some(Value::Object(previous)))
    }

    fn emit_with(
        &mut self,
        type_: &str,
        object: Value,
        previous: Option<Value>,
    ) -> Result<(), ApiError> {
        let id = new_id("evt");
        let created = objects::now();
        let endpoints: Vec<Endpoint> = self
            .store
            .endpoints
            .iter()
            .filter(|e| e.wants(type_))
            .cloned()
            .collect();
        let raw = json!({
            "id": id,
            "object": "event",
            "api_version": stripe_shared::version::VERSION.as_str(),
            "created": created,
            "data": match previous {
                Some(previous) => json!({ "object": object, "previous_attributes": previous }),
                None => json!({ "object": object }),
            },
            "livemode": false,
            "pending_webhooks": endpoints.len(),
            "request": { "id": self.request.id, "idempotency_key": self.request.idempotency_key },
            "type": type_,
        });
        let event: stripe_webhook::Event = objects::typed(raw)?;
        let body = objects::json_of(&event);
        let payload =
            serde_json::to_string(&body).map_err(|e| ApiError::internal(e.to_string()))?;
        self.store.events.insert(
            id.clone(),
            StoredEvent {
                id: id.clone(),
                type_: type_.to_string(),
                created,
                body,
                pending_webhooks: endpoints.len() as i64,
            },
        );
        let generation = self.store.generation;
        self.deliveries
            .extend(endpoints.into_iter().map(|endpoint| Delivery {
                event_id: id.clone(),
                event_type: type_.to_string(),
                payload: payload.clone(),
                endpoint,
                generation,
            }));
        Ok(())
    }

    pub fn require_secret(&self) -> Result<(), ApiError> {
        if self.auth.kind == KeyKind::Publishable {
            return Err(publishable_refused());
        }
        Ok(())
    }
}

/// Runs one API call: authentication, idempotency, the handler under the store lock, then the
/// webhook deliveries and delayed work it produced.
pub async fn run(
    app: &App,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    access: Access,
    handler: impl FnOnce(&mut Tx<'_>) -> Result<Value, ApiError>,
) -> Response {
    let request_id = new_id("req");
    let params = Params::parse(uri.query(), body);
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .filter(|_| method == Method::POST);
    let auth = match authenticate(headers, &params) {
        Ok(a) => a,
        Err(e) => return respond(&request_id, e.status.as_u16(), e.envelope(), false),
    };
    if access == Access::SecretOnly && auth.kind == KeyKind::Publishable {
        let e = publishable_refused();
        return respond(&request_id, e.status.as_u16(), e.envelope(), false);
    }
    // What `/_standin/requests` shows of this call.
    let record = |status: u16, replayed: bool| RequestRecord {
        id: request_id.clone(),
        method: method.to_string(),
        path: uri.path().to_string(),
        status,
        idempotency_key: idempotency_key.clone(),
        replayed,
        key_kind: auth.kind.name(),
    };
    let fingerprint = format!("{method} {} {}", uri.path(), params.canonical());

    let (status, json, replayed, deliveries, later) = {
        let mut store = app.store();
        let seen = match &idempotency_key {
            Some(key) => store.idempotency.check(&auth.key, key, &fingerprint),
            None => Seen::New,
        };
        match seen {
            Seen::Mismatch(e) => (e.status.as_u16(), e.envelope(), false, vec![], vec![]),
            Seen::Replay { status, body } => (status, body, true, vec![], vec![]),
            Seen::New => {
                let mut tx = Tx {
                    store: &mut store,
                    params: &params,
                    auth: &auth,
                    request: RequestInfo {
                        id: Some(request_id.clone()),
                        idempotency_key: idempotency_key.clone(),
                    },
                    base_url: app.base_url(),
                    deliveries: vec![],
                    later: vec![],
                };
                // An injected failure stands for Stripe failing while it ran the request: like
                // any other result, it is kept under the idempotency key. With `after`, the
                // request did its work (and its events go out) before the failure.
                let outcome = match tx.store.take_fault(method.as_str(), uri.path()) {
                    Some((status, true)) => {
                        let _done = handler(&mut tx);
                        Err(ApiError::injected(status))
                    }
                    Some((status, false)) => Err(ApiError::injected(status)),
                    None => handler(&mut tx),
                };
                let (deliveries, later) = (tx.deliveries, tx.later);
                let (status, json, keep) = match outcome {
                    Ok(v) => (200, v, true),
                    Err(e) => (e.status.as_u16(), e.envelope(), e.replayable),
                };
                if let (Some(key), true) = (&idempotency_key, keep) {
                    store
                        .idempotency
                        .save(&auth.key, key, fingerprint, status, json.clone());
                }
                (status, json, false, deliveries, later)
            }
        }
    };
    app.record(record(status, replayed));
    app.dispatch(deliveries);
    for job in later {
        app.schedule(job);
    }
    respond(&request_id, status, json, replayed)
}

fn respond(request_id: &str, status: u16, body: Value, replayed: bool) -> Response {
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("request-id", v);
    }
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    if let Ok(v) = HeaderValue::from_str(stripe_shared::version::VERSION.as_str()) {
        headers.insert("stripe-version", v);
    }
    response
}
