//! The admin's server functions. Each first checks, on the server, that an admin is signed in:
//! a guest is asked to sign in (401), anyone else is refused (403), whatever they send.

// A product's form posts its fields one by one (a plain HTML form), and the server macro
// copies them into the functions it generates.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::ShopError;
use crate::models::{
    AdminProductLine, EditableProduct, EventList, OrderList, OrderRecord, ProductState,
    ShopOverview,
};

#[cfg(feature = "ssr")]
use {
    super::accounts::signed_in,
    crate::accounts::User,
    crate::admin,
    crate::catalog::edit::{self, ProductForm},
    crate::catalog::stripe_sync,
    crate::domain::{OrderId, OrderStatus, ProductSlug, REFUND_REFUSED, REFUND_REFUSED_ADMIN},
    crate::error::{OrInternal, with_status},
    crate::inbox::{self, Handled, Retried},
    crate::models::OrderFilter,
    crate::refunds::{self, Requested},
    crate::state::app_state,
};

/// The signed-in admin, or the refusal.
#[cfg(feature = "ssr")]
async fn admin_user() -> Result<User, ShopError> {
    match signed_in().await? {
        None => Err(ShopError::SignInRequired),
        Some(user) if user.is_admin => Ok(user),
        Some(user) => {
            tracing::warn!(user = user.id, "a non-admin asked for the admin");
            Err(ShopError::Forbidden)
        }
    }
}

/// Sales and what needs a person.
#[server(endpoint = "admin_overview")]
pub async fn admin_overview() -> Result<ShopOverview, ShopError> {
    with_status("admin_overview", async {
        admin_user().await?;
        let state = app_state()?;
        admin::overview(&state.pool)
            .await
            .or_internal("Failed to read the sales figures")
    })
    .await
}

/// One page of orders, narrowed by what the filter form sent (empty fields mean "any").
#[server(endpoint = "admin_orders")]
pub async fn admin_orders(
    #[server(default)] status: Option<String>,
    #[server(default)] from: Option<String>,
    #[server(default)] to: Option<String>,
    #[server(default)] email: Option<String>,
    #[server(default)] product: Option<String>,
    #[server(default)] page: Option<u32>,
) -> Result<OrderList, ShopError> {
    with_status("admin_orders", async move {
        admin_user().await?;
        let given = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let filter = OrderFilter {
            status: match given(status) {
                None => None,
                Some(code) => Some(OrderStatus::from_code(&code).ok_or_else(|| {
                    ShopError::Invalid("Please choose a status from the list.".into())
                })?),
            },
            from: given(from).map(|d| admin::parse_day(&d)).transpose()?,
            to: given(to).map(|d| admin::parse_day(&d)).transpose()?,
            email: given(email),
            product: match given(product) {
                None => None,
                Some(slug) => Some(
                    ProductSlug::parse(&slug)
                        .map_err(|_| {
                            ShopError::Invalid("Please choose a product from the list.".into())
                        })?
                        .as_str()
                        .to_string(),
                ),
            },
            page: page.unwrap_or(1).clamp(1, 10_000),
        };
        let state = app_state()?;
        admin::orders(&state.pool, &filter)
            .await
            .or_internal("Failed to read orders")
    })
    .await
}

/// One order with everything the shop knows of it.
#[server(endpoint = "admin_order")]
pub async fn admin_order(order_id: String) -> Result<OrderRecord, ShopError> {
    with_status("admin_order", async move {
        admin_user().await?;
        let order = OrderId::parse(&order_id).map_err(|_| ShopError::NotFound)?;
        let state = app_state()?;
        admin::order(&state.pool, &order)
            .await
            .or_internal("Failed to read an order")?
            .ok_or(ShopError::NotFound)
    })
    .await
}

/// Refunds `amount` (typed in the order's currency) of an order, then goes back to it. With
/// `revoke` ("on", from the form's checkbox) the product also leaves the buyer's library.
#[server(endpoint = "admin_refund")]
pub async fn admin_refund(
    order_id: String,
    amount: String,
    key: String,
    #[server(default)] revoke: Option<String>,
) -> Result<(), ShopError> {
    with_status("admin_refund", async move {
        let admin = admin_user().await?;
        let order = OrderId::parse(&order_id).map_err(|_| ShopError::NotFound)?;
        let key = crate::library::SpendKey::parse(&key)?;
        let state = app_state()?;
        let requested = refunds::by_admin(
            &state.pool,
            &state.stripe,
            admin.id,
            &order,
            &amount,
            revoke.is_some(),
            key.as_str(),
        )
        .await
        .map_err(|e| match e {
            ShopError::Invalid(m) if m == REFUND_REFUSED => {
                ShopError::Invalid(REFUND_REFUSED_ADMIN.into())
            }
            other => other,
        })?;
        let outcome = match requested {
            Requested::Refunded => "done",
            Requested::Pending => "pending",
        };
        leptos_axum::redirect(&format!("/admin/orders/{order}?refund={outcome}"));
        Ok(())
    })
    .await
}

/// One page of the inbox of Stripe events, newest first.
#[server(endpoint = "admin_events")]
pub async fn admin_events(
    #[server(default)] unhandled: Option<bool>,
    #[server(default)] page: Option<u32>,
) -> Result<EventList, ShopError> {
    with_status("admin_events", async move {
        admin_user().await?;
        let state = app_state()?;
        admin::events(
            &state.pool,
            unhandled.unwrap_or(false),
            page.unwrap_or(1).clamp(1, 10_000),
        )
        .await
        .or_internal("Failed to read the inbox")
    })
    .await
}

/// Settles one stored event now, through the path a delivery takes, then goes back to the
/// inbox saying how it went.
#[server(endpoint = "admin_retry_event")]
pub async fn admin_retry_event(event_id: String) -> Result<(), ShopError> {
    with_status("admin_retry_event", async move {
        let admin = admin_user().await?;
        let state = app_state()?;
        let outcome = match inbox::retry(&state, event_id.trim())
            .await
            .or_internal("Failed to retry an event")?
        {
            Retried::Settled(Handled::Now) => "settled",
            Retried::Settled(Handled::Before) => "already",
            Retried::Missing => return Err(ShopError::NotFound),
            Retried::Failed(e) => {
                tracing::warn!(event_id, error = %e, "a retried event still cannot be settled");
                "failed"
            }
        };
        tracing::info!(
            admin = admin.id,
            event_id,
            outcome,
            "event retried from the admin"
        );
        leptos_axum::redirect(&format!("/admin/events?retried={outcome}"));
        Ok(())
    })
    .await
}

/// Every product not archived, newest first.
#[server(endpoint = "admin_products")]
pub async fn admin_products() -> Result<Vec<AdminProductLine>, ShopError> {
    with_status("admin_products", async {
        admin_user().await?;
        edit::list(&app_state()?.pool).await
    })
    .await
}

/// One product for its edit form.
#[server(endpoint = "admin_product")]
pub async fn admin_product(slug: String) -> Result<EditableProduct, ShopError> {
    with_status("admin_product", async move {
        admin_user().await?;
        let slug = ProductSlug::parse(&slug).map_err(|_| ShopError::NotFound)?;
        edit::get(&app_state()?.pool, &slug)
            .await?
            .ok_or(ShopError::NotFound)
    })
    .await
}

/// Mirrors product `id` to Stripe in the background: the admin's page does not wait for
/// Stripe, and a failure is recorded on the product for the housekeeping job to retry. A
/// server without background work (the tests) leaves it to the job, run by hand.
#[cfg(feature = "ssr")]
fn sync_soon(state: &crate::state::AppState, id: i64) {
    if !state.background_jobs {
        return;
    }
    let (pool, stripe) = (state.pool.clone(), state.stripe.clone());
    tokio::spawn(async move {
        if let Err(e) = stripe_sync::sync(&pool, &stripe, id).await {
            tracing::warn!(product = id, error = %e, "could not record a Stripe sync");
        }
    });
}

/// Saves a product from its form: a new one (no `id`) unpublished, or changes to the
/// `version` the form showed. Then goes to its page.
#[server(endpoint = "admin_save_product")]
pub async fn admin_save_product(
    #[server(default)] id: Option<i64>,
    #[server(default)] version: Option<i32>,
    title: String,
    slug: String,
    #[server(default)] description: String,
    kind: String,
    price: String,
    currency: String,
    #[server(default)] credits: String,
    #[server(default)] price_credits: String,
    #[server(default)] membership_days: String,
) -> Result<(), ShopError> {
    with_status("admin_save_product", async move {
        let admin = admin_user().await?;
        let draft = ProductForm {
            title,
            slug,
            description,
            kind,
            price,
            currency,
            credits,
            price_credits,
            membership_days,
        }
        .check()?;
        let state = app_state()?;
        let id = match (id, version) {
            (Some(id), Some(version)) => {
                edit::update(&state.pool, id, version, &draft).await?;
                id
            }
            (None, _) => edit::create(&state.pool, &draft).await?,
            (Some(_), None) => {
                return Err(ShopError::Invalid(crate::domain::RELOAD_AND_RETRY.into()));
            }
        };
        tracing::info!(
            admin = admin.id,
            product = id,
            "product saved from the admin"
        );
        sync_soon(&state, id);
        leptos_axum::redirect(&format!("/admin/products/{}?saved=1", draft.slug));
        Ok(())
    })
    .await
}

/// Publishes, unpublishes or archives a product, then goes back to it (or, archived, to the
/// list).
#[server(endpoint = "admin_product_state")]
pub async fn admin_product_state(slug: String, state: ProductState) -> Result<(), ShopError> {
    with_status("admin_product_state", async move {
        let admin = admin_user().await?;
        let slug = ProductSlug::parse(&slug).map_err(|_| ShopError::NotFound)?;
        let app = app_state()?;
        let product = edit::id_of(&app.pool, &slug).await?;
        edit::set_state(&app.pool, product, state).await?;
        tracing::info!(
            admin = admin.id,
            product = product,
            ?state,
            "product state set from the admin"
        );
        sync_soon(&app, product);
        leptos_axum::redirect(&match state {
            ProductState::Archived => "/admin/products?archived=1".to_string(),
            _ => format!("/admin/products/{slug}"),
        });
        Ok(())
    })
    .await
}

/// Mirrors a product to Stripe now, for the admin's "Sync now"; then goes back to it.
#[server(endpoint = "admin_sync_product")]
pub async fn admin_sync_product(slug: String) -> Result<(), ShopError> {
    with_status("admin_sync_product", async move {
        admin_user().await?;
        let slug = ProductSlug::parse(&slug).map_err(|_| ShopError::NotFound)?;
        let state = app_state()?;
        let product = edit::id_of(&state.pool, &slug).await?;
        stripe_sync::sync(&state.pool, &state.stripe, product)
            .await
            .or_internal("Failed to record a Stripe sync")?;
        leptos_axum::redirect(&format!("/admin/products/{slug}"));
        Ok(())
    })
    .await
}
