//! The order page's status, live: while the payment is settling, the browser asks again and
//! shows the change without a reload.

use leptos::prelude::*;

use crate::domain::{DisputeStatus, OrderStatus};
use crate::models::OrderView;

/// The order as the server rendered it; while its payment is still settling, the browser asks
/// again every 1.5 s and shows the change without a reload.
#[island]
pub fn LiveOrder(order: OrderView) -> impl IntoView {
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
                    if let Ok(fresh) = crate::api::get_order(current.id.to_string()).await
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
        OrderStatus::NeedsReview => "We are checking your payment. You need not pay again; we \
                                     will be in touch at your receipt email."
            .to_string(),
    };
    let note = match order.dispute {
        Some(DisputeStatus::Open) => "This payment is under dispute with your bank. What it gave \
                                      you is paused until the dispute is settled."
            .to_string(),
        Some(DisputeStatus::Lost) => "Your bank returned this payment to you after a dispute, \
                                      so what it gave you is no longer available."
            .to_string(),
        Some(DisputeStatus::Won) | None => note,
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
