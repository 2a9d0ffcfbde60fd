//! The server functions: the browser's only way into the shop, each at `/api/<name>`. Each
//! parses its arguments into domain types, does its work through the modules below, and has its
//! error's status written into the response in one place (`with_status`).

use leptos::prelude::*;

use crate::error::ShopError;
use crate::models::{CatalogPage, CheckoutSession, OrderView, Policy, Product};

mod accounts;
mod admin;
mod library;
pub use accounts::*;
pub use admin::*;
pub use library::*;

#[cfg(feature = "ssr")]
use crate::{
    domain::{Email, OrderId, ProductSlug},
    error::with_status,
    state::app_state,
};

/// One page of the published products, in catalog order (`CATALOG_PAGE` to a page; the
/// first page when `page` is not given). A page past the last is not found, except the first
/// of an empty catalog.
#[server(endpoint = "list_products")]
pub async fn list_products(#[server(default)] page: Option<u32>) -> Result<CatalogPage, ShopError> {
    with_status("list_products", async move {
        let state = app_state()?;
        let all = state.catalog.published(&state.pool).await?;
        CatalogPage::of(&all, page.unwrap_or(1)).ok_or(ShopError::NotFound)
    })
    .await
}

/// A policy page's text as HTML (see `policies`).
#[server(endpoint = "get_policy")]
pub async fn get_policy(policy: Policy) -> Result<String, ShopError> {
    with_status("get_policy", async move {
        let state = app_state()?;
        Ok(crate::policies::html(&state.shop, state.refund_window, policy).await)
    })
    .await
}

/// One published product.
#[server(endpoint = "get_product")]
pub async fn get_product(slug: String) -> Result<Product, ShopError> {
    with_status("get_product", async move {
        let slug = ProductSlug::parse(&slug).map_err(|_| ShopError::NotFound)?;
        let state = app_state()?;
        state
            .catalog
            .published(&state.pool)
            .await?
            .iter()
            .find(|p| p.slug == slug.as_str())
            .cloned()
            .ok_or(ShopError::NotFound)
    })
    .await
}

/// Opens checkout for a product: reuses this browser's open order for it when there is one,
/// otherwise creates an order at the database's price and its PaymentIntent.
#[server(endpoint = "start_checkout")]
pub async fn start_checkout(slug: String) -> Result<CheckoutSession, ShopError> {
    with_status("start_checkout", async move {
        let slug = ProductSlug::parse(&slug).map_err(|_| ShopError::NotFound)?;
        let state = app_state()?;
        let session = checkout_session::Orders::load().await?;
        let client = client_address(&state).await?;
        let session_before = session.id();
        if let Err(exceeded) = state
            .limits
            .checkout_start(client, session_before.as_deref())
        {
            tracing::warn!(%client, "checkout starts over the rate limit");
            retry_after(exceeded.retry_after);
            return Err(ShopError::TooManyRequests);
        }
        let opened = crate::checkout::open(
            &state.pool,
            &state.stripe,
            &slug,
            session.order_for(&slug),
            state.order_ttl / 2,
            accounts::signed_in_user().await?,
            async |order| session.remember(&slug, order).await,
        )
        .await?;
        if session_before.is_none()
            && let Some(new) = session.id()
        {
            state.limits.count_new_session(&new);
        }
        tracing::info!(order = %opened.order, "checkout opened");
        Ok(CheckoutSession {
            order_id: opened.order,
            client_secret: opened.client_secret,
            amount: opened.amount,
        })
    })
    .await
}

/// Records the receipt email on this browser's open order and its PaymentIntent, just before
/// the payment is confirmed. Only the browser that opened the order may: its session holds the
/// order, or it presents the order's client secret, which checkout gave it alone (that covers a
/// brand-new browser whose two tabs started checkout at once and kept only one of the two
/// session cookies). The order's id, which is in the order page's URL, is not enough.
#[server(endpoint = "set_checkout_email")]
pub async fn set_checkout_email(
    order_id: String,
    email: String,
    #[server(default)] client_secret: Option<String>,
) -> Result<(), ShopError> {
    with_status("set_checkout_email", async move {
        let order_id = OrderId::parse(&order_id).map_err(|_| ShopError::NotFound)?;
        let email = Email::parse(&email)?;
        let state = app_state()?;
        let by_secret = match client_secret.as_deref() {
            Some(secret) => crate::checkout::secret_matches(&state.pool, &order_id, secret).await?,
            None => false,
        };
        if !by_secret && !checkout_session::Orders::load().await?.holds(&order_id) {
            return Err(ShopError::NotFound);
        }
        crate::checkout::set_email(&state.pool, &state.stripe, &order_id, &email).await
    })
    .await
}

/// An order by its public id, settled from Stripe first while its payment is open.
#[server(endpoint = "get_order")]
pub async fn get_order(id: String) -> Result<OrderView, ShopError> {
    with_status("get_order", async move {
        let id = OrderId::parse(&id).map_err(|_| ShopError::NotFound)?;
        let state = app_state()?;
        let client = client_address(&state).await?;
        let mut order = crate::orders::view(&state.pool, &state.stripe, &state.new_mail, &id, || {
            let allowed = state.limits.stripe_read(client);
            if !allowed {
                tracing::info!(%client, "Stripe reads over the rate limit; showing the stored state");
            }
            allowed
        })
        .await?;
        // Why a card was declined is for the buyer's session only, not for anyone with the
        // link. The session is read only when there is a reason to hide.
        if order.failure_message.is_some() && !checkout_session::Orders::load().await?.holds(&id) {
            order.failure_message = None;
        }
        Ok(order)
    })
    .await
}

/// The address the request came from (see `limits::client_address`).
#[cfg(feature = "ssr")]
async fn client_address(state: &crate::state::AppState) -> Result<std::net::IpAddr, ShopError> {
    use axum::extract::ConnectInfo;
    use axum::http::HeaderMap;
    let ConnectInfo(peer) = leptos_axum::extract::<ConnectInfo<std::net::SocketAddr>>()
        .await
        .map_err(|e| ShopError::internal("the connection's address is missing", e))?;
    let headers: HeaderMap = leptos_axum::extract()
        .await
        .map_err(|e| ShopError::internal("the request's headers are missing", e))?;
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    Ok(crate::limits::client_address(
        peer.ip(),
        forwarded,
        state.trust_forwarded_for,
    ))
}

/// Tells the browser when to try again after a refusal for too many requests.
#[cfg(feature = "ssr")]
fn retry_after(wait: std::time::Duration) {
    use axum::http::{HeaderValue, header};
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        response.insert_header(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    }
}

/// The session store is the shop's database: when it does not answer, the shopper is told the
/// shop is busy, as for any other query.
#[cfg(feature = "ssr")]
fn store_failure(context: &str, err: tower_sessions::session::Error) -> ShopError {
    match err {
        tower_sessions::session::Error::Store(e) => {
            tracing::warn!(error = %e, "{context}: the session store did not answer");
            ShopError::Busy
        }
        other => ShopError::internal(context, other),
    }
}

/// The orders this browser is paying for, one per product, kept in its server-side session
/// (tower-sessions, stored in Postgres). The cookie holds only the random session id, so
/// knowing an order's id (it is in the order page's URL) does not let anyone act as its buyer,
/// and two tabs paying for two products each keep their own order.
#[cfg(feature = "ssr")]
mod checkout_session {
    use std::collections::BTreeMap;

    use tower_sessions::Session;

    use super::store_failure;
    use crate::domain::{OrderId, ProductSlug};
    use crate::error::ShopError;

    const KEY: &str = "checkout_orders";

    pub struct Orders {
        session: Session,
        by_product: BTreeMap<String, OrderId>,
    }

    impl Orders {
        pub async fn load() -> Result<Self, ShopError> {
            let session: Session = leptos_axum::extract()
                .await
                .map_err(|e| ShopError::internal("the session layer is missing", e))?;
            let by_product = session
                .get(KEY)
                .await
                .map_err(|e| store_failure("Failed to read the session", e))?
                .unwrap_or_default();
            Ok(Self {
                session,
                by_product,
            })
        }

        /// The session's id, once it has been saved.
        pub fn id(&self) -> Option<String> {
            self.session.id().map(|id| id.to_string())
        }

        pub fn order_for(&self, product: &ProductSlug) -> Option<OrderId> {
            self.by_product.get(product.as_str()).cloned()
        }

        pub fn holds(&self, order: &OrderId) -> bool {
            self.by_product.values().any(|o| o == order)
        }

        /// Keeps `order` as this browser's order for `product`, saved at once: the session
        /// layer saves nothing when the request then fails with a 5xx (Stripe unreachable),
        /// and the retry must find the order and its idempotency key.
        pub async fn remember(
            &self,
            product: &ProductSlug,
            order: &OrderId,
        ) -> Result<(), ShopError> {
            if self.order_for(product).as_ref() == Some(order) {
                return Ok(());
            }
            let new = self.session.id().is_none();
            let mut by_product = self.by_product.clone();
            by_product.insert(product.as_str().to_string(), order.clone());
            self.session
                .insert(KEY, by_product)
                .await
                .map_err(|e| store_failure("Failed to save the session", e))?;
            self.session
                .save()
                .await
                .map_err(|e| store_failure("Failed to save the session", e))?;
            if new && let Some(id) = self.session.id() {
                set_cookie(&id.to_string());
            }
            Ok(())
        }
    }

    /// The cookie the session layer would set, for a new session whose request may still fail.
    fn set_cookie(id: &str) {
        use axum::http::{HeaderValue, header};
        let secure = crate::state::app_state().is_ok_and(|s| s.secure_cookies);
        let cookie = format!(
            "{}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
            crate::state::session_cookie(secure),
            crate::state::SESSION_DAYS * 24 * 60 * 60,
            if secure { "; Secure" } else { "" }
        );
        if let (Some(response), Ok(value)) = (
            leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
            HeaderValue::from_str(&cookie),
        ) {
            response.append_header(header::SET_COOKIE, value);
        }
    }
}
