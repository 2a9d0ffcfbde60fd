//! The server's shared state, handed to server functions through Leptos context and to axum
//! handlers through `State`.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

#[derive(Clone)]
pub struct AppState {
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
}

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

/// The state of the current request, for server functions.
pub fn app_state() -> Result<AppState, crate::error::ShopError> {
    leptos::prelude::use_context::<AppState>().ok_or_else(|| {
        crate::error::ShopError::internal("AppState missing from context", "no state")
    })
}
