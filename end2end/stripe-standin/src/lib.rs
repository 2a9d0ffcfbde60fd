//! A local stand-in for Stripe: the REST API as async-stripe reads it, signed webhooks with
//! retries, and a Stripe.js with the Payment Element, for offline development and tests.

pub mod api;
pub mod cards;
pub mod control;
pub mod error;
pub mod objects;
pub mod params;
pub mod store;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::error::ApiError;
use crate::objects::new_id;
use crate::params::Params;
use crate::store::{Config, RequestRecord, Saved, Store, StoredEvent};
use crate::webhooks::{Delivery, Endpoint};

/// How the stand-in starts.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Webhook endpoints that every delivery goes to, kept across resets.
    pub webhook_urls: Vec<String>,
    /// Their signing secrets (each delivery is signed with all of them).
    pub webhook_secrets: Vec<String>,
    pub config: Config,
}

#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    store: Mutex<Store>,
    base_url: String,
    http: reqwest::Client,
    options: Options,
}

impl App {
    pub fn new(base_url: String, options: Options) -> Self {
        let app = Self {
            inner: Arc::new(Inner {
                store: Mutex::new(Store::default()),
                base_url,
                http: reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(10))
                    .build()
                    .expect("an HTTP client with default settings builds"),
                options,
            }),
        };
        app.reset();
        app
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while the lock was held leaves plain data behind; keep serving it.
        self.inner
            .store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps a request in the log `/_standin/requests` shows.
    fn record(&self, request: RequestRecord) {
        let mut store = self.store();
        // A long-running dev stand-in keeps only the recent history.
        if store.requests.len() >= 10_000 {
            store.requests.drain(..1_000);
        }
        store.requests.push(request);
    }

    /// The status of an injected failure for this call, if one is due; it is used up.
    fn take_fault(&self, method: &str, path: &str) -> Option<u16> {
        let mut store = self.store();
        let fault = store.faults.iter_mut().find(|f| f.matches(method, path))?;
        fault.times -= 1;
        let status = fault.status;
        store.faults.retain(|f| f.times > 0);
        Some(status)
    }

    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub fn reset(&self) {
        let opts = &self.inner.options;
        let endpoints = opts
            .webhook_urls
            .iter()
            .map(|url| Endpoint::new(url.clone(), opts.webhook_secrets.clone(), vec![]))
            .collect();
        self.store().reset(endpoints, opts.config.clone());
    }
}

/// A running stand-in, for tests that start one in their own process.
pub struct Running {
    pub addr: SocketAddr,
    pub base_url: String,
    pub app: App,
}

/// Binds `listener`'s address and serves until the process ends.
pub async fn serve(listener: TcpListener, options: Options) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let app = App::new(format!("http://{addr}"), options);
    axum::serve(listener, api::router(app)).await?;
    Ok(())
}

/// Starts a stand-in on a free loopback port in the background.
pub async fn spawn(options: Options) -> anyhow::Result<Running> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://{addr}");
    let app = App::new(base_url.clone(), options);
    let router = api::router(app.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "stand-in server stopped");
        }
    });
    Ok(Running {
        addr,
        base_url,
        app,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Secret,
    Publishable,
}

impl KeyKind {
    fn name(self) -> &'static str {
        match self {
            KeyKind::Secret => "secret",
            KeyKind::Publishable => "publishable",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Auth {
    pub key: String,
    pub kind: KeyKind,
}

/// Which keys may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    SecretOnly,
    /// The browser may call it with the publishable key plus the object's client secret.
    ClientSecret,
}

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
            "data": { "object": object },
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

fn publishable_refused() -> ApiError {
    ApiError::forbidden(
        "This API call cannot be made with a publishable API key. Please use a secret API key. You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys.",
    )
}

/// Reads the key the way Stripe does: `Authorization: Bearer …`, HTTP Basic with the key as
/// user name, or (from Stripe.js) a `key` parameter holding a publishable key.
fn authenticate(headers: &HeaderMap, params: &Params) -> Result<Auth, ApiError> {
    let from_header = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            if let Some(token) = h.strip_prefix("Bearer ") {
                Some(token.trim().to_string())
            } else if let Some(basic) = h.strip_prefix("Basic ") {
                use base64::Engine;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(basic.trim())
                    .ok()?;
                let text = String::from_utf8(decoded).ok()?;
                Some(text.split(':').next().unwrap_or_default().to_string())
            } else {
                None
            }
        });
    let key = match (from_header, params.str("key")) {
        (Some(k), _) => k,
        (None, Some(k)) if k.starts_with("pk_") => k.to_string(),
        _ => {
            return Err(ApiError::unauthorized(
                "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            ));
        }
    };
    let masked = if key.len() > 12 {
        format!("{}****{}", &key[..8], &key[key.len() - 4..])
    } else {
        "****".into()
    };
    if key.starts_with("sk_live_") || key.starts_with("pk_live_") || key.starts_with("rk_live_") {
        return Err(ApiError::unauthorized(format!(
            "Invalid API Key provided: {masked}. The Stripe stand-in only accepts test-mode keys."
        )));
    }
    let kind = if key.starts_with("sk_test_") || key.starts_with("rk_test_") {
        KeyKind::Secret
    } else if key.starts_with("pk_test_") {
        KeyKind::Publishable
    } else {
        return Err(ApiError::unauthorized(format!(
            "Invalid API Key provided: {masked}"
        )));
    };
    Ok(Auth { key, kind })
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
    let record = |status: u16, idempotency_key: Option<String>, replayed: bool| RequestRecord {
        id: request_id.clone(),
        method: method.to_string(),
        path: uri.path().to_string(),
        status,
        idempotency_key,
        replayed,
        key_kind: auth.kind.name(),
    };
    if let Some(status) = app.take_fault(method.as_str(), uri.path()) {
        let body = serde_json::json!({ "error": {
            "type": "api_error",
            "message": "An injected failure (/_standin/faults): the request was not processed.",
        }});
        app.record(record(status, idempotency_key, false));
        return respond(&request_id, status, body, false);
    }
    let fingerprint = format!("{method} {} {}", uri.path(), params.canonical());

    let (status, json, replayed, deliveries, later) = {
        let mut store = app.store();
        store.forget_old_idempotency_keys();
        let saved = idempotency_key.as_ref().and_then(|k| {
            store
                .idempotency
                .get(&(auth.key.clone(), k.clone()))
                .cloned()
        });
        match saved {
            Some(saved) if saved.fingerprint != fingerprint => {
                let key = idempotency_key.clone().unwrap_or_default();
                let e = ApiError::idempotency(format!(
                    "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
                ));
                (e.status.as_u16(), e.envelope(), false, vec![], vec![])
            }
            Some(saved) => (saved.status, saved.body, true, vec![], vec![]),
            None => {
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
                let outcome = handler(&mut tx);
                let (deliveries, later) = (tx.deliveries, tx.later);
                let (status, json, keep) = match outcome {
                    Ok(v) => (200, v, true),
                    Err(e) => (e.status.as_u16(), e.envelope(), e.replayable),
                };
                if let (Some(k), true) = (&idempotency_key, keep) {
                    store.idempotency.insert(
                        (auth.key.clone(), k.clone()),
                        Saved {
                            fingerprint,
                            status,
                            body: json.clone(),
                            at: std::time::Instant::now(),
                        },
                    );
                }
                (status, json, false, deliveries, later)
            }
        }
    };
    app.record(record(status, idempotency_key, replayed));
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
