//! The form under a product: email, the Payment Element and a pay button that says the amount.
//! An island: the server renders it, the browser hydrates it and mounts Stripe's form.
//!
//! Viewing a product costs nothing: the order and its PaymentIntent are made only when the
//! shopper starts paying (focuses the form, or presses "Continue to payment"), so crawlers and
//! passers-by never reach Stripe.

use leptos::prelude::*;

use crate::domain::Money;
#[cfg(feature = "hydrate")]
use crate::{
    api::{set_checkout_email, start_checkout},
    models::CheckoutSession,
};

/// The form under a product: email, the Payment Element and a pay button that says the amount.
/// An island: the server renders it, the browser hydrates it and mounts Stripe's form.
#[island]
pub fn CheckoutForm(slug: String, price: Money) -> impl IntoView {
    let (email, set_email) = signal(String::new());
    let (message, set_message) = signal(None::<String>);
    let (busy, set_busy) = signal(false);
    // Set once the browser has taken over the form (only the browser runs effects).
    #[allow(unused_variables)]
    let (hydrated, set_hydrated) = signal(false);
    // Checkout asked for (the form is loading) and the payment form mounted.
    #[allow(unused_variables)]
    let (started, set_started) = signal(false);
    #[allow(unused_variables)]
    let (ready, set_ready) = signal(false);
    // The server renders the catalog price; once checkout is open the button says the amount
    // the order charges, as the server returned it with the client secret.
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

    // Kept in a StoredValue so every handler below can share one copyable `start`.
    #[allow(unused_variables)]
    let slug = StoredValue::new(slug);
    #[cfg(feature = "hydrate")]
    let form = StoredValue::new_local(None::<(crate::stripe_js::PaymentForm, CheckoutSession)>);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| set_hydrated.set(true));
    // Opens checkout once: the order, its PaymentIntent, the mounted Payment Element. After a
    // failure the shopper may ask again.
    let start = move || {
        if started.get_untracked() {
            return;
        }
        set_started.set(true);
        #[cfg(feature = "hydrate")]
        {
            let slug = slug.get_value();
            leptos::task::spawn_local(async move {
                let opened = match start_checkout(slug).await {
                    Ok(session) => crate::stripe_js::loaded().await.map(|()| session),
                    Err(e) => Err(e.to_string()),
                };
                match opened {
                    Ok(session) => match crate::stripe_js::PaymentForm::mount(
                        &session.publishable_key,
                        &session.client_secret,
                        "#payment-element",
                    ) {
                        Ok(pf) => {
                            set_amount.set(session.amount);
                            form.set_value(Some((pf, session)));
                            set_message.set(None);
                            set_ready.set(true);
                        }
                        Err(e) => {
                            leptos::logging::error!("payment form failed to mount: {e}");
                            set_message.set(Some(crate::stripe_js::NOT_LOADED.into()));
                        }
                    },
                    Err(e) => {
                        set_message.set(Some(e.to_string()));
                        set_started.set(false);
                    }
                }
            });
        }
    };

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !ready.get_untracked() {
            // Enter in the email field before the payment form is there.
            start();
            return;
        }
        if busy.get_untracked() {
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
            let Some((payment_form, session)) = form.get_value() else {
                set_busy.set(false);
                return;
            };
            let order_id = session.order_id;
            let secret = Some(session.client_secret.clone());
            if let Err(e) = set_checkout_email(order_id.to_string(), typed.clone(), secret).await {
                set_message.set(Some(e.to_string()));
                set_busy.set(false);
                return;
            }
            let origin = window().location().origin().unwrap_or_default();
            let return_url = format!("{origin}/orders/{order_id}");
            match payment_form.confirm(&return_url, &typed).await {
                Ok(_) => {
                    let _ = window().location().assign(&return_url);
                }
                Err(e) => {
                    set_message.set(Some(e));
                    set_busy.set(false);
                }
            }
        });
    };

    view! {
        <form
            class="checkout"
            on:submit=on_submit
            on:focusin=move |_| start()
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
            <p class="form-error" role="alert">{move || message.get()}</p>
            <Show
                when=move || ready.get()
                fallback=move || {
                    view! {
                        <button
                            type="button"
                            class="continue"
                            disabled=move || started.get()
                            on:click=move |_| start()
                        >
                            {move || {
                                if started.get() {
                                    "Loading the payment form…"
                                } else {
                                    "Continue to payment"
                                }
                            }}
                        </button>
                    }
                }
            >
                <button type="submit" class="pay" disabled=move || busy.get()>
                    {pay_label}
                </button>
            </Show>
        </form>
    }
}
