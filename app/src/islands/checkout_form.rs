//! The form under a product: email, the Payment Element and a pay button that says the amount.
//! An island: the server renders it, the browser hydrates it and mounts Stripe's form.
//!
//! The Payment Element is mounted as soon as the island hydrates, before any PaymentIntent exists
//! (Stripe's deferred-intent flow), so the form is usable without a round trip to the shop.
//! No order and no PaymentIntent are made until the shopper presses "Pay", so crawlers and
//! passers-by leave nothing behind.

use leptos::prelude::*;

#[cfg(feature = "hydrate")]
use crate::api::{set_checkout_email, start_checkout};
use crate::domain::Money;

/// The id of the product page's price line: when the shopper learns at "Pay" that the price
/// has changed, the island writes the new one there too.
pub const PRICE_LINE_ID: &str = "product-price";

/// The form under a product: email, the Payment Element and a pay button that says the amount.
/// An island: the server renders it, the browser hydrates it and mounts Stripe's form.
#[island]
pub fn CheckoutForm(slug: String, price: Money, publishable_key: String) -> impl IntoView {
    let (email, set_email) = signal(String::new());
    let (message, set_message) = signal(None::<String>);
    let (busy, set_busy) = signal(false);
    // Set once the browser has taken over the form (only the browser runs effects).
    #[allow(unused_variables)]
    let (hydrated, set_hydrated) = signal(false);
    // The Payment Element is mounted and the shopper may pay.
    #[allow(unused_variables)]
    let (ready, set_ready) = signal(false);
    // The server renders the catalog price; once the order is made the button says the amount
    // it charges, as the server returned it with the client secret.
    #[allow(unused_variables)]
    let (amount, set_amount) = signal(price);
    let pay_label = move || {
        let amount = amount.get();
        if busy.get() {
            format!("Paying {amount}…")
        } else {
            format!("Pay {amount}")
        }
    };

    #[allow(unused_variables)]
    let slug = StoredValue::new(slug);
    #[cfg(feature = "hydrate")]
    let form = StoredValue::new_local(None::<crate::stripe_js::PaymentForm>);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        set_hydrated.set(true);
        let key = publishable_key.clone();
        leptos::task::spawn_local(async move {
            let mounted = match crate::stripe_js::loaded().await {
                Ok(()) => crate::stripe_js::PaymentForm::mount(&key, price, "#payment-element"),
                Err(e) => Err(e),
            };
            let ready = match mounted {
                Ok(pf) => pf.ready().await.map(|()| pf),
                Err(e) => Err(e),
            };
            match ready {
                Ok(pf) => {
                    form.set_value(Some(pf));
                    set_ready.set(true);
                }
                Err(e) => {
                    leptos::logging::error!("payment form failed to load: {e}");
                    set_message.set(Some(crate::stripe_js::NOT_LOADED.into()));
                }
            }
        });
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = publishable_key;

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !ready.get_untracked() || busy.get_untracked() {
            return;
        }
        let typed = email.get_untracked();
        if let Err(e) = crate::domain::Email::parse(&typed) {
            set_message.set(Some(e.to_string()));
            return;
        }
        set_message.set(None);
        set_busy.set(true);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let Some(payment_form) = form.get_value() else {
                set_busy.set(false);
                return;
            };
            if let Err(e) = pay(&payment_form, slug.get_value(), typed, amount, set_amount).await {
                set_message.set(Some(e));
                set_busy.set(false);
            }
        });
    };

    view! {
        <form
            class="checkout"
            on:submit=on_submit
            aria-label="Checkout"
            data-hydrated=move || hydrated.get().then_some("true")
            novalidate
        >
            <label for="checkout-email">"Email for your receipt and downloads"</label>
            <input
                id="checkout-email"
                name="email"
                type="email"
                autocomplete="email"
                required
                prop:value=email
                on:input=move |ev| set_email.set(event_target_value(&ev))
            />
            <div id="payment-element" class="payment-element"></div>
            {move || {
                (!ready.get() && message.get().is_none())
                    .then(|| {
                        view! {
                            <p class="form-note" role="status">
                                "Loading the payment form…"
                            </p>
                        }
                    })
            }}
            <p class="form-error" role="alert">{move || message.get()}</p>
            <button
                type="submit"
                class="pay"
                disabled=move || !ready.get() || busy.get()
            >
                {pay_label}
            </button>
        </form>
    }
}

/// Pays once the shopper pressed "Pay": checks the form, asks the server for the order (made at
/// the database's price, or this browser's open order for the product when it can still be
/// paid, as after a declined card), records the receipt email and confirms the payment.
/// Returns the message to show when the shopper has something to do.
#[cfg(feature = "hydrate")]
async fn pay(
    payment_form: &crate::stripe_js::PaymentForm,
    slug: String,
    email: String,
    shown: ReadSignal<Money>,
    set_shown: WriteSignal<Money>,
) -> Result<(), String> {
    // Stripe.js wants the form checked before any other work.
    payment_form.submit().await?;
    // Asked at every press, never kept here: the server knows whether the order is still
    // payable (not expired, not paid meanwhile, still at the catalog's price).
    let session = start_checkout(slug).await.map_err(|e| e.to_string())?;
    // The seller changed the price since the page was rendered: the shopper pays only an
    // amount the button has shown.
    if session.amount != shown.get_untracked() {
        set_shown.set(session.amount);
        payment_form.set_amount(session.amount);
        // The product page's price line, outside the island, says the same.
        if let Ok(Some(line)) = document().query_selector(&format!("#{PRICE_LINE_ID}")) {
            line.set_text_content(Some(&session.amount.to_string()));
        }
        return Err(format!(
            "The price is now {}. Press the button again to pay it.",
            session.amount
        ));
    }
    let order_id = session.order_id;
    let secret = Some(session.client_secret.clone());
    set_checkout_email(order_id.to_string(), email.clone(), secret)
        .await
        .map_err(|e| e.to_string())?;
    let origin = window().location().origin().unwrap_or_default();
    let return_url = format!("{origin}/orders/{order_id}");
    let confirmed = payment_form
        .confirm(&session.client_secret, &return_url, &email)
        .await;
    // A failure may be only the answer lost on the way: the order page tells a payment that
    // went through, and pressing "Pay" again must not make a second order.
    if let Err(e) = confirmed
        && !payment_form.paid(&session.client_secret).await
    {
        return Err(e);
    }
    let _ = window().location().assign(&return_url);
    Ok(())
}
