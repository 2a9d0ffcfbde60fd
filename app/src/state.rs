//! The server's shared state, handed to server functions through Leptos context and to axum
//! handlers through `State`.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// What every request may need, behind one `Arc`: axum hands each request's handler its own
/// copy of the state, so a copy costs one reference count. (As a plain struct of these fields,
/// copying and dropping it for each request was a quarter of the server's time answering
/// `/healthz`: its strings, the Stripe client's headers, the leptos options. bench/RESULTS.md.)
#[derive(Clone)]
pub struct AppState(std::sync::Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(std::sync::Arc::new(shared))
    }

    /// The fields, to change while the server is being set up (a copy is made first if the
    /// state is already shared, so no running task sees a change).
    pub fn make_mut(&mut self) -> &mut Shared {
        std::sync::Arc::make_mut(&mut self.0)
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The fields of `AppState`.
#[derive(Clone)]
pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    /// The published products, kept between changes (see `catalog::cache`).
    pub catalog: crate::catalog::cache::CatalogCache,
    pub stripe: stripe::Client,
    pub public: PublicSettings,
    /// Every secret a webhook may be signed with (more than one while a secret is rolled).
    /// Empty means webhooks are off and the route answers 503.
    pub webhook_secrets: std::sync::Arc<Vec<SecretString>>,
    /// Whether the Stripe keys are live ones; an event of the other mode is not acted on.
    pub live_mode: bool,
    /// Whether the session cookie is marked `Secure` (everywhere but loopback).
    pub secure_cookies: bool,
    /// Rate limits on checkout starts and Stripe reads (see `limits`).
    pub limits: std::sync::Arc<crate::limits::Limits>,
    /// Whether the client's address is read from `X-Forwarded-For` (behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// How long an open order lives; checkout reuses one only in the first half of its life,
    /// so the expiry sweep never cancels a payment form a shopper has just opened.
    pub order_ttl: std::time::Duration,
    /// Where bought files are, and the key their download links are signed with.
    pub files: crate::files::Files,
    /// How long after paying a shopper may ask for a refund from their account.
    pub refund_window: std::time::Duration,
    /// The largest product file the admin may upload, in bytes.
    pub upload_limit: u64,
    /// Whether this server does background work (off in tests, which run it themselves): an
    /// admin's change is then mirrored to Stripe at once, rather than by the next job.
    pub background_jobs: bool,
    /// The shop as its pages present it.
    pub shop: ShopInfo,
    /// Rung after a commit that wrote mail, so this server's mail job sends it at once.
    pub new_mail: crate::outbox::NewMail,
    /// Settles payment events in batches (see `inbox::batch`), once started.
    pub settler: crate::inbox::Settler,
}

/// The shop as its pages present it: its name, where shoppers write to, where the seller's
/// policy pages are, and its public address.
#[derive(Clone, Debug)]
pub struct ShopInfo {
    pub name: String,
    pub contact_email: String,
    /// `terms.md`, `refund-policy.md` and `privacy.md`, read when their page is asked for.
    pub content_dir: std::path::PathBuf,
    /// `PUBLIC_URL`, or once the server has bound its port, `http://` and its address.
    pub public_url: Option<String>,
    /// The stylesheet's URL: `/pkg/storefront.<hash>.css` when the site's assets carry their
    /// content's hash.
    pub stylesheet: String,
}

impl ShopInfo {
    /// The shop's address for links that must be absolute (a sitemap, canonical links, link
    /// previews): `PUBLIC_URL`, or the address the server listens on. Never the request's
    /// `Host`, which the client chooses and a shared cache could keep.
    pub fn base_url(&self) -> &str {
        self.public_url
            .as_deref()
            .map_or("http://localhost", |url| url.trim_end_matches('/'))
    }
}

/// The session cookie: a random id only, HttpOnly, SameSite=Lax, kept this many days of
/// inactivity. The server's session layer and checkout (which must set it on a failing first
/// request, where the layer does not) both build it from these. Where cookies are Secure the
/// name carries the `__Host-` prefix, so the browser accepts it only from this exact host over
/// https, with `Path=/` and no `Domain`: a sibling subdomain cannot plant a session.
pub fn session_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-sf_session"
    } else {
        "sf_session"
    }
}
pub const SESSION_DAYS: i64 = 7;

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Settings the browser may see: the publishable key and where Stripe.js comes from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PublicSettings {
    pub publishable_key: String,
    pub stripe_js_url: String,
}

/// The state of the current request, for server functions. The server gives it to every
/// request it handles, so it is missing only from a page whose client hung up mid-render: the
/// page's resources may first run after the request's owner, and its context, are gone. That
/// is not a fault to alert on (a shop sees it whenever a shopper closes a tab), so it is logged
/// at debug; the answer goes nowhere anyway.
pub fn app_state() -> Result<AppState, crate::error::ShopError> {
    leptos::prelude::use_context::<AppState>().ok_or_else(|| {
        tracing::debug!("no AppState in context: the request was abandoned mid-render");
        crate::error::ShopError::Internal
    })
}
