//! The order page: what was bought and whether it is paid. While a payment is open the page
//! asks Stripe itself and settles the order the way the webhook would, so "paid" is only ever
//! shown for a payment Stripe says succeeded.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use crate::catalog::ErrorList;
use crate::domain::{OrderId, OrderStatus};
use crate::error::ShopError;
use crate::money::Money;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderView {
    pub id: OrderId,
    pub product_title: String,
    pub product_slug: String,
    pub amount: Money,
    pub status: OrderStatus,
    pub failure_message: Option<String>,
    pub refunded: Option<Money>,
}

#[cfg(feature = "ssr")]
mod ssr {
    use stripe_core::payment_intent::RetrievePaymentIntent;

    use super::OrderView;
    use crate::domain::{OrderId, OrderStatus};
    use crate::error::{OrInternal, ShopError};
    use crate::fulfillment;
    use crate::money::{Currency, Money};
    use crate::state::AppState;

    #[derive(sqlx::FromRow)]
    struct Row {
        public_id: String,
        title: String,
        slug: String,
        amount_minor: i64,
        currency: String,
        status: OrderStatus,
        failure_message: Option<String>,
        amount_refunded_minor: i64,
        payment_intent_id: Option<String>,
    }

    async fn read(state: &AppState, id: &OrderId) -> Result<Option<Row>, ShopError> {
        sqlx::query_as::<_, Row>(
            "select o.public_id, p.title, p.slug, o.amount_minor, o.currency, o.status, o.failure_message,
                    o.amount_refunded_minor, o.payment_intent_id
             from customer_order o join product p on p.id = o.product_id
             where o.public_id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&state.pool)
        .await
        .or_internal("Failed to read an order")
    }

    /// Asks Stripe for the order's PaymentIntent and settles the order from it. A Stripe or
    /// database failure here is logged and the page shows what the database already has.
    async fn refresh(state: &AppState, intent_id: &str) {
        let intent = match RetrievePaymentIntent::new(intent_id)
            .send(&state.stripe)
            .await
        {
            Ok(pi) => pi,
            Err(e) => {
                tracing::warn!(error = ?e, intent = intent_id, "could not read a PaymentIntent for the order page");
                return;
            }
        };
        let result = async {
            let mut tx = state.pool.begin().await?;
            fulfillment::settle_intent(&mut tx, &intent).await?;
            tx.commit().await?;
            Ok::<_, fulfillment::SettleError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, intent = intent_id, "could not settle an order from the order page");
        }
    }

    pub async fn view(state: &AppState, id: &OrderId) -> Result<OrderView, ShopError> {
        let mut row = read(state, id).await?.ok_or_else(ShopError::not_found)?;
        if row.status.is_open()
            && let Some(pi) = row.payment_intent_id.clone()
        {
            refresh(state, &pi).await;
            row = read(state, id).await?.ok_or_else(ShopError::not_found)?;
        }
        let currency: Currency = row.currency.parse().or_internal("bad order currency")?;
        let amount = Money::new(row.amount_minor, currency).or_internal("bad order amount")?;
        Ok(OrderView {
            id: OrderId::parse(&row.public_id)?,
            product_title: row.title,
            product_slug: row.slug,
            amount,
            status: row.status,
            failure_message: row.failure_message,
            refunded: Money::new(row.amount_refunded_minor, currency).ok(),
        })
    }
}

#[server(endpoint = "get_order")]
pub async fn get_order(id: String) -> Result<OrderView, ShopError> {
    let id = OrderId::parse(&id).map_err(|_| ShopError::not_found())?;
    let state = crate::state::app_state()?;
    ssr::view(&state, &id).await
}

#[component]
pub fn OrderPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let order = Resource::new(id, get_order);
    view! {
        <Title text="Your order"/>
        <Suspense fallback=|| view! { <p>"Loading your order…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                {move || Suspend::new(async move {
                    order.await.map(|o| view! { <LiveOrder order=o/> })
                })}
            </ErrorBoundary>
        </Suspense>
    }
}

/// The order as the server rendered it; while its payment is still settling, the browser asks
/// again every 1.5 s and shows the change without a reload.
#[island]
fn LiveOrder(order: OrderView) -> impl IntoView {
    let (order, set_order) = signal(order);

    #[cfg(feature = "hydrate")]
    {
        // One look at a time, so a slow answer can never land after a newer one.
        let looking = std::rc::Rc::new(std::cell::Cell::new(false));
        let handle = set_interval_with_handle(
            move || {
                let current = order.get_untracked();
                if looking.get()
                    || !matches!(
                        current.status,
                        OrderStatus::Processing | OrderStatus::Pending
                    )
                {
                    return;
                }
                looking.set(true);
                let looking = looking.clone();
                leptos::task::spawn_local(async move {
                    // A failed look (offline, server restarting) keeps what is shown; the next
                    // tick tries again.
                    if let Ok(fresh) = get_order(current.id.to_string()).await
                        && fresh != current
                    {
                        set_order.set(fresh);
                    }
                    looking.set(false);
                });
            },
            std::time::Duration::from_millis(1500),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = set_order;

    move || view! { <OrderSummary order=order.get()/> }
}

#[component]
fn OrderSummary(order: OrderView) -> impl IntoView {
    let status = order.status;
    let note = match status {
        OrderStatus::Paid => "Thank you! Your payment went through.".to_string(),
        OrderStatus::Processing => {
            "Your payment is processing. This page updates by itself.".to_string()
        }
        OrderStatus::Pending => "We are waiting for your payment.".to_string(),
        OrderStatus::Failed => order
            .failure_message
            .clone()
            .map(|m| format!("The payment did not go through: {m}"))
            .unwrap_or_else(|| "The payment did not go through.".to_string()),
        OrderStatus::PartiallyRefunded => format!(
            "Part of this order was refunded ({}).",
            order.refunded.map(|m| m.to_string()).unwrap_or_default()
        ),
        OrderStatus::Refunded => "This order was refunded.".to_string(),
        OrderStatus::Canceled => "This order was canceled.".to_string(),
    };
    view! {
        <article class="order" data-status=format!("{status:?}").to_lowercase()>
            <h1>"Order " <code>{order.id.to_string()}</code></h1>
            <dl>
                <dt>"Item"</dt>
                <dd><a href=format!("/products/{}", order.product_slug)>{order.product_title.clone()}</a></dd>
                <dt>"Amount"</dt>
                <dd class="amount">{order.amount.to_string()}</dd>
                <dt>"Status"</dt>
                <dd class="status" role="status">{status.label()}</dd>
            </dl>
            <p class="note">{note}</p>
        </article>
    }
}
