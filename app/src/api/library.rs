//! What a signed-in shopper does with what they own: add a free product, unlock one with
//! credits, read an order's receipt, and ask for a refund. Each checks on the server that the
//! order or balance is the signed-in shopper's; someone else's order is "not found".

use leptos::prelude::*;

use crate::error::ShopError;
use crate::models::Receipt;

#[cfg(feature = "ssr")]
use {
    super::signed_in_user,
    crate::domain::{OrderId, ProductSlug},
    crate::error::with_status,
    crate::library::{self, SpendKey},
    crate::refunds::{self, Requested},
    crate::state::app_state,
};

#[cfg(feature = "ssr")]
async fn user() -> Result<i64, ShopError> {
    signed_in_user().await?.ok_or(ShopError::SignInRequired)
}

/// Adds a free product to the signed-in shopper's library, then goes there.
#[server(endpoint = "add_to_library")]
pub async fn add_to_library(slug: String) -> Result<(), ShopError> {
    with_status("add_to_library", async move {
        let slug = ProductSlug::parse(&slug).map_err(|_| ShopError::NotFound)?;
        let user = user().await?;
        let state = app_state()?;
        library::add_free(&state.pool, user, &slug).await?;
        leptos_axum::redirect("/library");
        Ok(())
    })
    .await
}

/// Unlocks a product with the signed-in shopper's credits, for the `credits` its page showed,
/// then goes to their library. `key` is the form's own: posting the same form twice spends
/// once.
#[server(endpoint = "unlock_with_credits")]
pub async fn unlock_with_credits(slug: String, credits: i64, key: String) -> Result<(), ShopError> {
    with_status("unlock_with_credits", async move {
        let slug = ProductSlug::parse(&slug).map_err(|_| ShopError::NotFound)?;
        let key = SpendKey::parse(&key)?;
        let user = user().await?;
        let state = app_state()?;
        library::unlock(&state.pool, user, &slug, credits, &key).await?;
        state.new_mail.written();
        leptos_axum::redirect("/library");
        Ok(())
    })
    .await
}

/// The signed-in shopper's receipt for one of their orders.
#[server(endpoint = "my_receipt")]
pub async fn my_receipt(order_id: String) -> Result<Receipt, ShopError> {
    with_status("my_receipt", async move {
        let order = OrderId::parse(&order_id).map_err(|_| ShopError::NotFound)?;
        let user = user().await?;
        let state = app_state()?;
        refunds::receipt(&state.pool, user, &order, state.refund_window).await
    })
    .await
}

/// Asks for a refund of one of the signed-in shopper's orders, for the amount their receipt
/// showed them (`amount_minor`), then goes back to the receipt.
#[server(endpoint = "request_refund")]
pub async fn request_refund(order_id: String, amount_minor: i64) -> Result<(), ShopError> {
    with_status("request_refund", async move {
        let order = OrderId::parse(&order_id).map_err(|_| ShopError::NotFound)?;
        let user = user().await?;
        let state = app_state()?;
        let requested = refunds::request(
            &state.pool,
            &state.stripe,
            user,
            &order,
            amount_minor,
            state.refund_window,
        )
        .await?;
        let outcome = match requested {
            Requested::Refunded => "done",
            Requested::Pending => "pending",
        };
        leptos_axum::redirect(&format!("/account/orders/{order}?refund={outcome}"));
        Ok(())
    })
    .await
}
