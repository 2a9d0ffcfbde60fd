//! A local stand-in for Stripe: the REST API as async-stripe reads it, signed webhooks with
//! retries, and a Stripe.js with the Payment Element, for offline development and tests.
//!
//! Modules, from the outside in: `api` (the `/v1` routes, Stripe.js) and `control` (the
//! test-only `/_standin` routes) → `call` (one API call: key, fault, idempotency, handler) →
//! `auth`, `idempotency`, `webhooks` (signed deliveries) → `app` (shared state) → `store`,
//! `objects`, `cards`, `params`, `error`.

pub mod api;
mod app;
mod auth;
mod call;
pub mod cards;
pub mod control;
pub mod error;
mod idempotency;
pub mod objects;
pub mod params;
pub mod store;
pub mod webhooks;

use std::net::SocketAddr;

use tokio::net::TcpListener;

pub use app::App;
pub use auth::{Access, Auth, KeyKind};
pub use call::{Later, RequestInfo, Tx, run};

use crate::store::Config;

/// How the stand-in starts.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Webhook endpoints that every delivery goes to, kept across resets.
    pub webhook_urls: Vec<String>,
    /// Their signing secrets (each delivery is signed with all of them).
    pub webhook_secrets: Vec<String>,
    pub config: Config,
}

/// A running stand-in, for tests that start one in their own process.
pub struct Running {
    pub addr: SocketAddr,
    pub base_url: String,
    pub app: App,
}

/// Serves on `listener` until the process ends.
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
