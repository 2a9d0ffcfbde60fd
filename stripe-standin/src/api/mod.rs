//! The HTTP surface: Stripe's `/v1` API, Stripe.js, and the test-only `/_standin` control.

mod charges;
mod disputes;
mod events;
mod payment_intents;
mod payment_methods;
mod products;
mod refunds;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tower_http::cors::{Any, CorsLayer};

use crate::error::ApiError;
use crate::{Access, App, Tx, run};

pub use disputes::open as open_dispute;
pub use payment_intents::{authenticate_3ds, settle_processing};

const STRIPE_JS: &str = include_str!("../../assets/stripe.js");
const DEMO_PAGE: &str = include_str!("../../assets/demo.html");

/// Everything an API handler gets from axum, in one extractor-friendly bundle.
pub struct Call {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Call {
    async fn run(
        &self,
        app: &App,
        access: Access,
        f: impl FnOnce(&mut Tx<'_>) -> Result<Value, ApiError>,
    ) -> Response {
        run(
            app,
            &self.method,
            &self.uri,
            &self.headers,
            &self.body,
            access,
            f,
        )
        .await
    }
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for Call {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let body = Bytes::from_request(
            axum::extract::Request::from_parts(parts.clone(), body),
            state,
        )
        .await
        .map_err(IntoResponse::into_response)?;
        Ok(Call {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
        })
    }
}

macro_rules! endpoint {
    ($access:expr, $f:path) => {
        |State(app): State<App>, call: Call| async move { call.run(&app, $access, |tx| $f(tx)).await }
    };
    ($access:expr, $f:path, id) => {
        |State(app): State<App>, Path(id): Path<String>, call: Call| async move {
            call.run(&app, $access, |tx| $f(tx, &id)).await
        }
    };
}

pub fn router(app: App) -> Router {
    use Access::{ClientSecret, SecretOnly};
    let v1 = Router::new()
        .route(
            "/v1/payment_intents",
            post(endpoint!(SecretOnly, payment_intents::create))
                .get(endpoint!(SecretOnly, payment_intents::list)),
        )
        .route(
            "/v1/payment_intents/{id}",
            get(endpoint!(ClientSecret, payment_intents::retrieve, id)).post(endpoint!(
                SecretOnly,
                payment_intents::update,
                id
            )),
        )
        .route(
            "/v1/payment_intents/{id}/confirm",
            post(endpoint!(ClientSecret, payment_intents::confirm, id)),
        )
        .route(
            "/v1/payment_intents/{id}/cancel",
            post(endpoint!(SecretOnly, payment_intents::cancel, id)),
        )
        .route(
            "/v1/payment_methods",
            post(endpoint!(ClientSecret, payment_methods::create)),
        )
        .route("/v1/charges", get(endpoint!(SecretOnly, charges::list)))
        .route(
            "/v1/charges/{id}",
            get(endpoint!(SecretOnly, charges::retrieve, id)),
        )
        .route(
            "/v1/refunds",
            post(endpoint!(SecretOnly, refunds::create)).get(endpoint!(SecretOnly, refunds::list)),
        )
        .route(
            "/v1/refunds/{id}",
            get(endpoint!(SecretOnly, refunds::retrieve, id)),
        )
        .route(
            "/v1/disputes/{id}",
            get(endpoint!(SecretOnly, disputes::retrieve, id)).post(endpoint!(
                SecretOnly,
                disputes::update,
                id
            )),
        )
        .route(
            "/v1/products",
            post(endpoint!(SecretOnly, products::create_product))
                .get(endpoint!(SecretOnly, products::list_products)),
        )
        .route(
            "/v1/products/{id}",
            get(endpoint!(SecretOnly, products::retrieve_product, id)).post(endpoint!(
                SecretOnly,
                products::update_product,
                id
            )),
        )
        .route(
            "/v1/prices",
            post(endpoint!(SecretOnly, products::create_price))
                .get(endpoint!(SecretOnly, products::list_prices)),
        )
        .route(
            "/v1/prices/{id}",
            get(endpoint!(SecretOnly, products::retrieve_price, id)).post(endpoint!(
                SecretOnly,
                products::update_price,
                id
            )),
        )
        .route("/v1/events", get(endpoint!(SecretOnly, events::list)))
        .route(
            "/v1/events/{id}",
            get(endpoint!(SecretOnly, events::retrieve, id)),
        )
        .route(
            "/_standin/payment_intents/{id}/authenticate",
            post(endpoint!(
                ClientSecret,
                payment_intents::authenticate_3ds,
                id
            )),
        )
        .fallback(|method: Method, uri: Uri| async move {
            let e = ApiError::not_found_route(method.as_str(), uri.path());
            (e.status, axum::Json(e.envelope())).into_response()
        });

    let browser = Router::new()
        .route("/v3", get(stripe_js))
        .route("/v3/", get(stripe_js))
        .route("/_standin/demo", get(demo_page))
        .route("/healthz", get(|| async { "ok" }));

    v1.merge(browser)
        .merge(crate::control::router())
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods(Any)
                .allow_headers(Any),
        )
        .with_state(app)
}

async fn stripe_js() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        STRIPE_JS,
    )
}

async fn demo_page() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        DEMO_PAGE,
    )
}
