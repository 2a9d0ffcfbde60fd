//! The form under a product: email, the Payment Element and a pay button that says the amount.
//! An island: the server renders it, the browser hydrates it and mounts Stripe's form.

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

    #[cfg(not(feature = "hydrate"))]
    let _ = slug;
    #[cfg(feature = "hydrate")]
    let form = {
        let form = StoredValue::new_local(None::<(crate::stripe_js::PaymentForm, CheckoutSession)>);
        Effect::new(move |_| {
            let slug = slug.clone();
            leptos::task::spawn_local(async move {
                match start_checkout(slug).await {
                    Ok(session) => match crate::stripe_js::PaymentForm::mount(
                        &session.publishable_key,
                        &session.client_secret,
                        "#payment-element",
                    ) {
                        Ok(pf) => {
                            set_amount.set(session.amount);
                            form.set_value(Some((pf, session)));
                            set_ready.set(true);
                        }
                        Err(e) => {
                            leptos::logging::error!("payment form failed to mount: {e}");
                            set_message.set(Some(
                                "The payment form could not be loaded. Please reload the page."
                                    .into(),
                            ));
                        }
                    },
                    Err(e) => set_message.set(Some(e.to_string())),
                }
            });
        });
        form
    };

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
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
            if let Err(e) = set_checkout_email(order_id.to_string(), typed.clone()).await {
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
        <form class="checkout" on:submit=on_submit aria-label="Checkout" novalidate>
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
            <button type="submit" class="pay" disabled=move || busy.get() || !ready.get()>
                {pay_label}
            </button>
        </form>
    }
}
