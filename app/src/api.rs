//! The server functions: the browser's only way into the shop, each at `/api/<name>`. Each
//! parses its arguments into domain types, does its work through the modules below, and has its
//! error's status written into the response in one place (`with_status`).

use leptos::prelude::*;

use crate::error::ShopError;
use crate::models::{CheckoutSession, OrderView, Product};

#[cfg(feature = "ssr")]
use crate::{
    domain::{Email, OrderId, ProductSlug},
    error::with_status,
    state::app_state,
};

/// The published products, in catalog order.
#[server(endpoint = "list_products")]
pub async fn list_products() -> Result<Vec<Product>, ShopError> {
    with_status("list_products", async {
        let state = app_state()?;
        Ok(state.catalog.published(&state.pool).await?.to_vec())
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
        let current = checkout_cookie::read().await;
        let opened = crate::checkout::open(
            &state.pool,
            &state.stripe,
            &slug,
            current,
            checkout_cookie::write,
        )
        .await?;
        tracing::info!(order = %opened.order, "checkout opened");
        Ok(CheckoutSession {
            order_id: opened.order,
            client_secret: opened.client_secret,
            publishable_key: state.public.publishable_key.clone(),
            amount: opened.amount,
        })
    })
    .await
}

/// Records the receipt email on this browser's open order and its PaymentIntent, just before
/// the payment is confirmed.
#[server(endpoint = "set_checkout_email")]
pub async fn set_checkout_email(order_id: String, email: String) -> Result<(), ShopError> {
    with_status("set_checkout_email", async move {
        let order_id = OrderId::parse(&order_id).map_err(|_| ShopError::NotFound)?;
        let email = Email::parse(&email)?;
        // Only the browser that opened the order may change it.
        if checkout_cookie::read().await.as_ref() != Some(&order_id) {
            return Err(ShopError::NotFound);
        }
        let state = app_state()?;
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
        crate::orders::view(&state.pool, &state.stripe, &id).await
    })
    .await
}

/// The cookie that ties a browser to the order it is paying for, so reopening the form reuses
/// the order and a stranger cannot change it.
#[cfg(feature = "ssr")]
mod checkout_cookie {
    use axum::http::{HeaderMap, HeaderValue, header};
    use leptos::prelude::use_context;

    use crate::domain::OrderId;

    const NAME: &str = "sf_checkout";

    pub async fn read() -> Option<OrderId> {
        let headers: HeaderMap = leptos_axum::extract().await.ok()?;
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == NAME)
            .and_then(|(_, v)| OrderId::parse(v).ok())
    }

    pub fn write(order: &OrderId) {
        let cookie = format!("{NAME}={order}; Path=/; HttpOnly; SameSite=Lax; Max-Age=86400");
        if let (Some(response), Ok(value)) = (
            use_context::<leptos_axum::ResponseOptions>(),
            HeaderValue::from_str(&cookie),
        ) {
            response.append_header(header::SET_COOKIE, value);
        }
    }
}
