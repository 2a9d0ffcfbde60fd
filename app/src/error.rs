//! What a server function can tell the browser. Each variant is a plain message for the
//! shopper; database and Stripe details go to the logs, never here.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

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
    /// The database did not answer in time (every connection busy, or it is restarting).
    #[error("The shop is busy right now. Please try again in a moment.")]
    Busy,
    #[error("Something went wrong on our side. Please try again in a moment.")]
    Internal,
    /// The request never reached the server, or its answer never came back.
    #[error("We couldn't reach the shop. Check your connection and try again.")]
    Network,
}

impl FromServerFnError for ShopError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_) => {
                ShopError::Invalid("That request could not be understood.".into()).with_status()
            }
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => ShopError::Network,
            _ => ShopError::Internal,
        }
    }
}

impl From<crate::domain::InvalidInput> for ShopError {
    fn from(e: crate::domain::InvalidInput) -> Self {
        ShopError::Invalid(e.0.to_string()).with_status()
    }
}

impl ShopError {
    /// On the server, sets the HTTP status of the response being built to match the error
    /// (400, 404, 409, 503 or 500); in the browser it does nothing.
    pub fn with_status(self) -> Self {
        #[cfg(feature = "ssr")]
        if let Some(resp) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            use axum::http::StatusCode;
            resp.set_status(match &self {
                ShopError::Invalid(_) => StatusCode::BAD_REQUEST,
                ShopError::NotFound => StatusCode::NOT_FOUND,
                ShopError::NotPayable => StatusCode::CONFLICT,
                ShopError::PaymentsUnavailable | ShopError::Busy | ShopError::Network => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                ShopError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            });
        }
        self
    }
}

#[cfg(feature = "ssr")]
impl ShopError {
    /// Logs an unexpected failure with its details and gives the shopper the plain message.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "{context}");
        ShopError::Internal.with_status()
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
            ShopError::Busy.with_status()
        } else {
            ShopError::internal(context, err)
        }
    }

    /// "Not found", with a 404 status on the response being rendered.
    pub fn not_found() -> Self {
        ShopError::NotFound.with_status()
    }

    /// Logs a Stripe failure (its type and code, never the key) and tells the shopper to retry.
    pub fn stripe(context: &str, err: impl std::fmt::Debug) -> Self {
        tracing::error!(error = ?err, "{context}");
        ShopError::PaymentsUnavailable.with_status()
    }
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
