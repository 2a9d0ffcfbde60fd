//! What a server function can tell the browser. Each variant is a plain message for the
//! shopper; database and Stripe details go to the logs, never here.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use crate::domain::InvalidInput;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ShopError {
    /// Input the shopper can fix; the message says how.
    #[error("{0}")]
    Invalid(String),
    #[error("We couldn't find that.")]
    NotFound,
    #[error("This order can no longer be paid.")]
    NotPayable,
    #[error("Payments are unavailable right now. Please try again in a moment.")]
    PaymentsUnavailable,
    /// The page or action is for signed-in shoppers.
    #[error("Please sign in first.")]
    SignInRequired,
    /// Signed in, but this is for the shop's staff.
    #[error("This page is for the shop's staff.")]
    Forbidden,
    /// This browser or its network asked too often (see `limits`).
    #[error("Too many attempts in a short time. Please wait a minute and try again.")]
    TooManyRequests,
    /// The database did not answer in time (every connection busy, or it is restarting).
    #[error("The shop is busy right now. Please try again in a moment.")]
    Busy,
    #[error("Something went wrong on our side. Please try again in a moment.")]
    Internal,
    /// The request never reached the server, or its answer never came back.
    #[error("We couldn't reach the shop. Check your connection and try again.")]
    Network,
}

impl ShopError {
    /// The HTTP status a response carrying this error gets.
    pub fn status(&self) -> u16 {
        match self {
            ShopError::Invalid(_) => 400,
            ShopError::NotFound => 404,
            ShopError::NotPayable => 409,
            ShopError::TooManyRequests => 429,
            ShopError::SignInRequired => 401,
            ShopError::Forbidden => 403,
            ShopError::PaymentsUnavailable | ShopError::Busy | ShopError::Network => 503,
            ShopError::Internal => 500,
        }
    }
}

impl FromServerFnError for ShopError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let error = match value {
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_) => {
                ShopError::Invalid("That request could not be understood.".into())
            }
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => ShopError::Network,
            _ => ShopError::Internal,
        };
        // Arguments that cannot be read never reach the function's body, so this is where such
        // a request gets its status.
        #[cfg(feature = "ssr")]
        respond_with_status(&error);
        error
    }
}

impl From<InvalidInput> for ShopError {
    fn from(e: InvalidInput) -> Self {
        ShopError::Invalid(e.0.to_string())
    }
}

/// Runs a server function's body in a span named after it and writes the status of its error,
/// if any, into the response: the one place a server function's outcome becomes an HTTP
/// status. When the function runs inside a page render, the status is the page's.
#[cfg(feature = "ssr")]
pub async fn with_status<T>(
    name: &'static str,
    body: impl Future<Output = Result<T, ShopError>>,
) -> Result<T, ShopError> {
    use tracing::Instrument;
    let span = tracing::info_span!("server_fn", name);
    let result = body.instrument(span.clone()).await;
    if let Err(error) = &result {
        span.in_scope(|| tracing::info!(%error, status = error.status(), "answered with an error"));
        respond_with_status(error);
    }
    result
}

#[cfg(feature = "ssr")]
fn respond_with_status(error: &ShopError) {
    use axum::http::StatusCode;
    if plain_form_post() {
        // Leptos answers a form posted without JavaScript with a redirect back to the form,
        // the error in the URL; a status set here would replace that redirect.
        return;
    }
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        );
    }
}

#[cfg(feature = "ssr")]
impl ShopError {
    /// Logs an unexpected failure with its details and gives the shopper the plain message.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "{context}");
        ShopError::Internal
    }

    /// Logs a failure with its details and gives the shopper the plain message: "busy" (503)
    /// when the database could not be reached in time, so a starved pool answers quickly with a
    /// page that says to try again instead of leaving the request waiting.
    pub fn failure(context: &str, err: &(dyn std::error::Error + 'static)) -> Self {
        let unreachable = err.downcast_ref::<sqlx::Error>().is_some_and(|e| {
            matches!(
                e,
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
            )
        });
        if unreachable {
            tracing::warn!(error = %err, "{context}: the database did not answer in time");
            ShopError::Busy
        } else {
            ShopError::internal(context, err)
        }
    }

    /// Logs a Stripe failure (its type and code, never the key) and tells the shopper to retry.
    pub fn stripe(context: &str, err: impl std::fmt::Debug) -> Self {
        tracing::error!(error = ?err, "{context}");
        ShopError::PaymentsUnavailable
    }
}

/// Whether this request is an HTML form posted straight to a server function (no JavaScript):
/// a call to `/api/…` from a browser that wants a page back.
#[cfg(feature = "ssr")]
fn plain_form_post() -> bool {
    leptos::prelude::use_context::<axum::http::request::Parts>().is_some_and(|parts| {
        parts.uri.path().starts_with("/api/")
            && parts
                .headers
                .get(axum::http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
    })
}

/// `.or_internal("Failed to …")` on any fallible call whose error the shopper must not see:
/// the details go to the log, the shopper gets [`ShopError::Internal`] or, when the database
/// did not answer in time, [`ShopError::Busy`].
#[cfg(feature = "ssr")]
pub trait OrInternal<T> {
    fn or_internal(self, context: &str) -> Result<T, ShopError>;
}

#[cfg(feature = "ssr")]
impl<T, E: std::error::Error + 'static> OrInternal<T> for Result<T, E> {
    fn or_internal(self, context: &str) -> Result<T, ShopError> {
        self.map_err(|e| ShopError::failure(context, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_the_status_its_meaning_calls_for() {
        assert_eq!(ShopError::Invalid("x".into()).status(), 400);
        assert_eq!(ShopError::NotFound.status(), 404);
        assert_eq!(ShopError::NotPayable.status(), 409);
        assert_eq!(ShopError::TooManyRequests.status(), 429);
        assert_eq!(ShopError::SignInRequired.status(), 401);
        assert_eq!(ShopError::Forbidden.status(), 403);
        assert_eq!(ShopError::Busy.status(), 503);
        assert_eq!(ShopError::PaymentsUnavailable.status(), 503);
        assert_eq!(ShopError::Internal.status(), 500);
    }
}
