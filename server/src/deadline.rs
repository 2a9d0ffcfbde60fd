//! A deadline on every request. Whatever a handler waits on (a pool that never frees a
//! connection, a Stripe call that never answers, a render whose data never comes), the client
//! gets an answer it can read: 503 with a page, or for a server function the shop's own error,
//! and a `Retry-After`. Handlers that know better answer sooner (a starved pool gives up
//! after its acquire timeout); this is the backstop, and it is logged as an error.

use std::time::Duration;

use app::error::ShopError;
use app::state::ShopInfo;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

/// Longer than anything a request should wait on: the pool's acquire timeout (5 s) and a
/// Stripe call.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(20);
/// An admin's upload takes as long as its bytes take to arrive (a 500 MB file on a slow line).
pub const UPLOAD_DEADLINE: Duration = Duration::from_secs(30 * 60);

pub async fn answer_in_time(
    State(shop): State<ShopInfo>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let is_api = path.starts_with("/api/");
    let deadline =
        if request.method() == axum::http::Method::POST && path.starts_with("/admin/products/") {
            UPLOAD_DEADLINE
        } else {
            REQUEST_DEADLINE
        };
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(
                deadline_secs = deadline.as_secs(),
                "request passed its deadline; answering 503"
            );
            let mut response = if is_api {
                // What a server function's client decodes: the shop's own error, as JSON.
                let body = serde_json::to_string(&ShopError::Busy).unwrap_or_default();
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::CONTENT_TYPE, "application/json")],
                    body,
                )
                    .into_response()
            } else {
                let page = crate::plain_page::plain_page(
                    &shop,
                    "The shop is busy",
                    &ShopError::Busy.to_string(),
                );
                (StatusCode::SERVICE_UNAVAILABLE, Html(page)).into_response()
            };
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            response
        }
    }
}
