//! The order page's status, live: while the payment is settling, the browser asks again and
//! shows the change without a reload.

use leptos::prelude::*;

use crate::domain::{DisputeStatus, OrderStatus};
use crate::models::OrderView;

/// The order as the server rendered it; while its payment is still settling, the browser asks
/// again, first after 1.5 s and then less and less often (up to every 30 s), and shows the
/// change without a reload. After 10 minutes it stops asking and says so: a bank transfer may
/// take days, and an open tab should not ask the shop (and Stripe) forever.
#[island]
pub fn LiveOrder(order: OrderView) -> impl IntoView {
    let (order, set_order) = signal(order);
    #[allow(unused_variables)]
    let (gave_up, set_gave_up) = signal(false);

    #[cfg(feature = "hydrate")]
    forget_return_params();
    #[cfg(feature = "hydrate")]
    Poller {
        order,
        set_order,
        set_gave_up,
        looking: std::rc::Rc::new(std::cell::Cell::new(false)),
        started: js_sys::Date::now(),
    }
    .wait(Poller::FIRST_MS);
    #[cfg(not(feature = "hydrate"))]
    let _ = (set_order, set_gave_up);

    move || {
        view! {
            <OrderSummary order=order.get()/>
            {gave_up.get().then(|| view! {
                <p class="note slow" role="status">
                    "This is taking longer than usual. Reload this page later to see where your payment stands."
                </p>
            })}
        }
    }
}

/// After a payment method that leaves the site, Stripe sends the shopper back with
/// `payment_intent_client_secret` (and the intent's id) in the URL. The secret must not stay in
/// the address bar, the history, or a link the shopper shares, so the page drops the query.
#[cfg(feature = "hydrate")]
fn forget_return_params() {
    let location = window().location();
    let carries_secret = location
        .search()
        .is_ok_and(|q| q.contains("payment_intent_client_secret"));
    if let (true, Ok(path), Ok(history)) = (carries_secret, location.pathname(), window().history())
    {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&path));
    }
}

/// The order page's polling: each look is scheduled when the previous one is due (so a slow
/// answer never delays the next), one look at a time, waiting twice as long each time.
#[cfg(feature = "hydrate")]
#[derive(Clone)]
struct Poller {
    order: ReadSignal<OrderView>,
    set_order: WriteSignal<OrderView>,
    set_gave_up: WriteSignal<bool>,
    /// One look at a time, so a slow answer can never land after a newer one.
    looking: std::rc::Rc<std::cell::Cell<bool>>,
    started: f64,
}

#[cfg(feature = "hydrate")]
impl Poller {
    const FIRST_MS: u64 = 1_500;
    const LONGEST_MS: u64 = 30_000;
    const GIVE_UP_AFTER_MS: f64 = 10.0 * 60.0 * 1_000.0;

    fn wait(self, delay_ms: u64) {
        set_timeout(
            move || self.look(delay_ms),
            std::time::Duration::from_millis(delay_ms),
        );
    }

    fn look(self, waited_ms: u64) {
        let current = self.order.get_untracked();
        if !matches!(
            current.status,
            OrderStatus::Processing | OrderStatus::Pending
        ) {
            return;
        }
        if js_sys::Date::now() - self.started > Self::GIVE_UP_AFTER_MS {
            self.set_gave_up.set(true);
            return;
        }
        self.clone().wait((waited_ms * 2).min(Self::LONGEST_MS));
        if self.looking.get() {
            return;
        }
        self.looking.set(true);
        leptos::task::spawn_local(async move {
            // A failed look (offline, server restarting) keeps what is shown; the next one
            // tries again.
            if let Ok(fresh) = crate::api::get_order(current.id.to_string()).await
                && fresh != current
            {
                self.set_order.set(fresh);
            }
            self.looking.set(false);
        });
    }
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
                // The live region is inside the <dd>: a role on the <dd> itself would take it
                // out of the list's dt/dd pairs.
                <dd class="status"><span role="status">{status.label()}</span></dd>
            </dl>
            <p class="note">{note}</p>
            {order.downloadable.then(|| view! {
                <a class="download" href=format!("/orders/{}/download", order.id)>"Download your file"</a>
            })}
        </article>
    }
}
