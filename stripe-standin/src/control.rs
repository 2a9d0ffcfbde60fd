//! The test-only control API under `/_standin`: reset state, configure webhook endpoints and
//! retries, shape deliveries (delay, duplicate, hold and release in another order, drop), and
//! read back what happened. Real Stripe has none of this.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::store::{Config, Fault};
use crate::webhooks::{Delivery, Endpoint, ReleaseOrder, Rule};
use crate::{App, objects};

pub fn router() -> Router<App> {
    Router::new()
        .route("/_standin/reset", post(reset))
        .route("/_standin/config", get(get_config).post(set_config))
        .route(
            "/_standin/webhook_endpoints",
            get(list_endpoints)
                .post(add_endpoint)
                .delete(clear_endpoints),
        )
        .route(
            "/_standin/delivery_rules",
            get(list_rules).post(add_rule).delete(clear_rules),
        )
        .route("/_standin/deliveries", get(deliveries))
        .route("/_standin/deliveries/pending", get(pending))
        .route("/_standin/deliveries/release", post(release))
        .route("/_standin/events/{id}/resend", post(resend))
        .route("/_standin/requests", get(requests))
        .route("/_standin/disputes", post(open_dispute))
        .route(
            "/_standin/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
}

async fn reset(State(app): State<App>) -> StatusCode {
    app.reset();
    StatusCode::NO_CONTENT
}

async fn get_config(State(app): State<App>) -> Json<Config> {
    Json(app.store().config.clone())
}

#[derive(Deserialize)]
struct ConfigPatch {
    retry_base_ms: Option<u64>,
    retry_max_ms: Option<u64>,
    max_attempts: Option<u32>,
    processing_ms: Option<u64>,
}

async fn set_config(State(app): State<App>, Json(patch): Json<ConfigPatch>) -> Json<Config> {
    let mut store = app.store();
    let c = &mut store.config;
    if let Some(v) = patch.retry_base_ms {
        c.retry_base_ms = v;
    }
    if let Some(v) = patch.retry_max_ms {
        c.retry_max_ms = v;
    }
    if let Some(v) = patch.max_attempts {
        c.max_attempts = v.max(1);
    }
    if let Some(v) = patch.processing_ms {
        c.processing_ms = v;
    }
    Json(c.clone())
}

#[derive(Deserialize)]
struct NewEndpoint {
    url: String,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(default)]
    enabled_events: Vec<String>,
}

async fn add_endpoint(State(app): State<App>, Json(new): Json<NewEndpoint>) -> Response {
    if reqwest::Url::parse(&new.url).is_err() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "url is not a valid URL" })),
        )
            .into_response();
    }
    let mut secrets = new.secrets;
    secrets.extend(new.secret);
    if secrets.is_empty() {
        secrets.push(objects::new_id("whsec"));
    }
    let endpoint = Endpoint::new(new.url, secrets, new.enabled_events);
    app.store().endpoints.push(endpoint.clone());
    (StatusCode::CREATED, Json(endpoint)).into_response()
}

async fn list_endpoints(State(app): State<App>) -> Json<Vec<Endpoint>> {
    Json(app.store().endpoints.clone())
}

async fn clear_endpoints(State(app): State<App>) -> StatusCode {
    app.store().endpoints.clear();
    StatusCode::NO_CONTENT
}

async fn add_rule(State(app): State<App>, Json(rule): Json<Rule>) -> (StatusCode, Json<Rule>) {
    app.store().rules.push(rule.clone());
    (StatusCode::CREATED, Json(rule))
}

async fn list_rules(State(app): State<App>) -> Json<Vec<Rule>> {
    Json(app.store().rules.clone())
}

async fn clear_rules(State(app): State<App>) -> StatusCode {
    app.store().rules.clear();
    StatusCode::NO_CONTENT
}

async fn deliveries(State(app): State<App>) -> Json<Value> {
    Json(json!(app.store().deliveries))
}

/// What could still reach an endpoint: deliveries being sent or waiting for a retry, delayed
/// work that will emit events, and held deliveries. All zero means nothing more arrives until
/// the next API call or release.
async fn pending(State(app): State<App>) -> Json<Value> {
    let store = app.store();
    Json(json!({
        "in_flight": app.deliveries_in_flight(),
        "scheduled": app.scheduled(),
        "held": store.held.len(),
    }))
}

async fn list_faults(State(app): State<App>) -> Json<Value> {
    Json(json!(app.store().faults))
}

async fn add_fault(State(app): State<App>, Json(fault): Json<Fault>) -> StatusCode {
    app.store().faults.push(fault);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(app): State<App>) -> StatusCode {
    app.store().faults.clear();
    StatusCode::NO_CONTENT
}

async fn requests(State(app): State<App>) -> Json<Value> {
    Json(json!(app.store().requests))
}

#[derive(Deserialize)]
struct NewDispute {
    payment_intent: String,
}

/// Opens a dispute of a paid PaymentIntent's charge, as a cardholder's bank would.
async fn open_dispute(State(app): State<App>, Json(new): Json<NewDispute>) -> Response {
    let opened = app.system_call(|tx| {
        let charge = tx
            .store
            .payment_intents
            .get(&new.payment_intent)
            .and_then(|pi| pi.latest_charge.as_ref())
            .map(|c| c.id().as_str().to_string())
            .ok_or_else(|| {
                crate::error::ApiError::missing(
                    "payment_intent",
                    &new.payment_intent,
                    "payment_intent",
                )
            })?;
        crate::api::open_dispute(tx, &charge)
    });
    match opened {
        Ok(dispute) => (StatusCode::CREATED, Json(objects::json_of(&dispute))).into_response(),
        Err(e) => (e.status, Json(e.envelope())).into_response(),
    }
}

#[derive(Deserialize, Default)]
struct ReleaseBody {
    #[serde(default)]
    order: ReleaseOrder,
}

async fn release(State(app): State<App>, body: Option<Json<ReleaseBody>>) -> Json<Value> {
    let order = body.map(|b| b.0.order).unwrap_or_default();
    Json(json!({ "released": app.release(order) }))
}

/// Sends a stored event again to every endpoint that takes its type, like `stripe events resend`.
async fn resend(State(app): State<App>, Path(id): Path<String>) -> Response {
    let deliveries: Vec<Delivery> = {
        let store = app.store();
        let Some(event) = store.events.get(&id) else {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({ "error": format!("No such event: '{id}'") })),
            )
                .into_response();
        };
        let payload = event.json().to_string();
        store
            .endpoints
            .iter()
            .filter(|e| e.wants(&event.type_))
            .map(|endpoint| Delivery {
                event_id: id.clone(),
                event_type: event.type_.clone(),
                payload: payload.clone(),
                endpoint: endpoint.clone(),
                generation: store.generation,
            })
            .collect()
    };
    let count = deliveries.len();
    app.dispatch(deliveries);
    Json(json!({ "resent": count })).into_response()
}
