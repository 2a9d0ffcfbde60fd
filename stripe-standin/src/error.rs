//! Errors in Stripe's wire format: `{"error": {type, code, decline_code, message, param, ...}}`
//! with the HTTP status Stripe uses for each kind.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::objects::typed;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// The inner object of the `error` envelope, already in Stripe's shape.
    body: Value,
    /// Stripe stores the result of a request under its idempotency key only once the endpoint
    /// has started executing; requests refused while their parameters were read are not kept.
    pub replayable: bool,
}

impl ApiError {
    fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({ "type": kind, "message": message.into() }),
            replayable: true,
        }
    }

    /// A malformed request: 400 `invalid_request_error`, not stored for idempotent replay.
    pub fn invalid(message: impl Into<String>, param: Option<&str>, code: Option<&str>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message);
        e.replayable = false;
        e.set("param", param);
        e.set("code", code);
        e
    }

    /// A request that is well formed but not allowed in the object's current state.
    pub fn state(message: impl Into<String>, code: &str) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message);
        e.set("code", Some(code));
        e
    }

    /// A failure injected through `/_standin/faults`: Stripe's `api_error` with `status`.
    pub fn injected(status: u16) -> Self {
        Self::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "api_error",
            "An injected failure (/_standin/faults): the request was not processed.",
        )
    }

    pub fn missing(kind: &str, id: &str, param: &str) -> Self {
        let mut e = Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("No such {kind}: '{id}'"),
        );
        e.set("code", Some("resource_missing"));
        e.set("param", Some(param));
        e.replayable = false;
        e
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message);
        e.replayable = false;
        e
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::FORBIDDEN, "invalid_request_error", message);
        e.replayable = false;
        e
    }

    pub fn idempotency(message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "idempotency_error", message);
        e.replayable = false;
        e
    }

    /// A decline: 402 `card_error` with the bank's `decline_code`.
    pub fn card(code: &str, decline_code: Option<&str>, message: &str) -> Self {
        let mut e = Self::new(StatusCode::PAYMENT_REQUIRED, "card_error", message);
        e.set("code", Some(code));
        e.set("decline_code", decline_code);
        e
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "api_error", message)
    }

    pub fn not_found_route(method: &str, path: &str) -> Self {
        let mut e = Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("Unrecognized request URL ({method}: {path})."),
        );
        e.replayable = false;
        e
    }

    pub fn with(mut self, field: &str, value: Value) -> Self {
        self.body[field] = value;
        self
    }

    fn set(&mut self, field: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.body[field] = Value::String(v.to_string());
        }
    }

    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }

    pub fn body(&self) -> &Value {
        &self.body
    }

    /// The error as the API sends it, passed through async-stripe's own `Error` type so that
    /// what goes out is what the client reads.
    pub fn envelope(&self) -> Value {
        let typed: Result<stripe_shared::Error, _> = typed(json!({ "error": self.body }));
        match typed {
            Ok(err) => serde_json::to_value(err).unwrap_or_else(|_| json!({ "error": self.body })),
            Err(_) => json!({ "error": self.body }),
        }
    }
}
