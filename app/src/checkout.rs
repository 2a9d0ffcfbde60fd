//! Checkout on the product page: a server function opens (or reopens) the order and its
//! PaymentIntent, the Payment Element collects the card, and Stripe.js confirms in the browser.
//! Amounts always come from the database.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::OrderId;
use crate::error::ShopError;
use crate::money::Money;

/// What the browser needs to take a payment: nothing secret but the client secret of its own
/// PaymentIntent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckoutSession {
    pub order_id: OrderId,
    pub client_secret: String,
    pub publishable_key: String,
    pub amount: Money,
}

#[cfg(feature = "ssr")]
mod ssr {
    use std::collections::HashMap;

    use axum::http::{HeaderMap, HeaderValue, header};
    use leptos::prelude::*;
    use stripe::{IdempotencyKey, RequestStrategy, StripeRequest};
    use stripe_core::payment_intent::{
        CreatePaymentIntent, CreatePaymentIntentAutomaticPaymentMethods,
    };

    use crate::catalog::ssr::ProductRow;
    use crate::domain::{OrderId, OrderStatus};
    use crate::error::{OrInternal, ShopError};
    use crate::money::Money;
    use crate::state::AppState;

    pub const COOKIE: &str = "sf_checkout";

    /// The order this browser was last paying for, from its checkout cookie.
    pub async fn cookie_order() -> Option<OrderId> {
        let headers: HeaderMap = leptos_axum::extract().await.ok()?;
        let cookies = headers.get_all(header::COOKIE);
        cookies
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)
            .and_then(|(_, v)| OrderId::parse(v).ok())
    }

    pub fn set_cookie(order: &OrderId) {
        let cookie = format!("{COOKIE}={order}; Path=/; HttpOnly; SameSite=Lax; Max-Age=86400");
        if let (Some(resp), Ok(value)) = (
            use_context::<leptos_axum::ResponseOptions>(),
            HeaderValue::from_str(&cookie),
        ) {
            resp.append_header(header::SET_COOKIE, value);
        }
    }

    #[derive(sqlx::FromRow)]
    pub struct OpenOrder {
        pub id: i64,
        pub public_id: String,
        pub product_id: i64,
        pub amount_minor: i64,
        pub currency: String,
        pub status: OrderStatus,
        pub payment_intent_id: Option<String>,
        pub client_secret: Option<String>,
    }

    pub async fn load_order(
        state: &AppState,
        order: &OrderId,
    ) -> Result<Option<OpenOrder>, ShopError> {
        sqlx::query_as::<_, OpenOrder>(
            "select id, public_id, product_id, amount_minor, currency, status, payment_intent_id, client_secret
             from customer_order where public_id = $1",
        )
        .bind(order.as_str())
        .fetch_optional(&state.pool)
        .await
        .or_internal("Failed to read an order")
    }

    /// An order this browser can keep paying: same product at today's price, not settled.
    pub fn reusable(order: &OpenOrder, product: &ProductRow) -> bool {
        order.product_id == product.id
            && order.amount_minor == product.price_minor
            && order.currency == product.currency
            && matches!(order.status, OrderStatus::Pending | OrderStatus::Failed)
    }

    pub async fn create_order(
        state: &AppState,
        product: &ProductRow,
        price: Money,
    ) -> Result<OpenOrder, ShopError> {
        let public_id = OrderId::generate();
        sqlx::query_as::<_, OpenOrder>(
            "insert into customer_order (public_id, product_id, amount_minor, currency)
             values ($1, $2, $3, $4)
             returning id, public_id, product_id, amount_minor, currency, status, payment_intent_id, client_secret",
        )
        .bind(public_id.as_str())
        .bind(product.id)
        .bind(price.minor())
        .bind(price.currency().code())
        .fetch_one(&state.pool)
        .await
        .or_internal("Failed to create an order")
    }

    /// Creates the order's PaymentIntent. The idempotency key is the order's, so a retry after a
    /// lost answer (or two tabs at once) gets the same intent back, never a second one.
    pub async fn ensure_intent(
        state: &AppState,
        order: &OpenOrder,
        product: &ProductRow,
    ) -> Result<(String, String), ShopError> {
        if let (Some(pi), Some(secret)) = (&order.payment_intent_id, &order.client_secret) {
            return Ok((pi.clone(), secret.clone()));
        }
        let currency: stripe_types::Currency = order
            .currency
            .parse()
            .map_err(|e| ShopError::internal("bad order currency", format!("{e:?}")))?;
        let key = IdempotencyKey::new(format!("order-{}-intent", order.public_id))
            .or_internal("bad idempotency key")?;
        let intent = CreatePaymentIntent::new(order.amount_minor, currency)
            .automatic_payment_methods(CreatePaymentIntentAutomaticPaymentMethods::new(true))
            .metadata(HashMap::from([
                ("order_id".to_string(), order.public_id.clone()),
                ("product".to_string(), product.slug.clone()),
            ]))
            .description(product.title.clone())
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&state.stripe)
            .await
            .map_err(|e| ShopError::stripe("Failed to create a PaymentIntent", e))?;
        let secret = intent.client_secret.clone().ok_or_else(|| {
            ShopError::internal("PaymentIntent without client secret", intent.id.as_str())
        })?;
        sqlx::query(
            "update customer_order set payment_intent_id = $2, client_secret = $3, updated_at = now()
             where id = $1 and payment_intent_id is null",
        )
        .bind(order.id)
        .bind(intent.id.as_str())
        .bind(&secret)
        .execute(&state.pool)
        .await
        .or_internal("Failed to record a PaymentIntent")?;
        Ok((intent.id.to_string(), secret))
    }
}

/// Opens checkout for a product: reuses this browser's open order for it when there is one,
/// otherwise creates an order at the database's price and its PaymentIntent.
#[server(endpoint = "start_checkout")]
pub async fn start_checkout(slug: String) -> Result<CheckoutSession, ShopError> {
    let slug = crate::domain::ProductSlug::parse(&slug).map_err(|_| ShopError::not_found())?;
    let state = crate::state::app_state()?;
    let product = crate::catalog::ssr::published_by_slug(&state.pool, slug.as_str())
        .await?
        .ok_or_else(ShopError::not_found)?;
    let price = product.price()?;
    let existing = match ssr::cookie_order().await {
        Some(id) => ssr::load_order(&state, &id)
            .await?
            .filter(|o| ssr::reusable(o, &product)),
        None => None,
    };
    let order = match existing {
        Some(order) => order,
        None => ssr::create_order(&state, &product, price).await?,
    };
    let order_id = OrderId::parse(&order.public_id)?;
    ssr::set_cookie(&order_id);
    let (_, client_secret) = ssr::ensure_intent(&state, &order, &product).await?;
    tracing::info!(order = %order_id, "checkout opened");
    Ok(CheckoutSession {
        order_id,
        client_secret,
        publishable_key: state.public.publishable_key.clone(),
        amount: price,
    })
}

/// Records the receipt email on this browser's open order and its PaymentIntent, just before
/// the payment is confirmed.
#[server(endpoint = "set_checkout_email")]
pub async fn set_checkout_email(order_id: String, email: String) -> Result<(), ShopError> {
    use crate::error::OrInternal;
    use stripe::{IdempotencyKey, RequestStrategy, StripeRequest};
    use stripe_core::payment_intent::UpdatePaymentIntent;

    let order_id = OrderId::parse(&order_id).map_err(|_| ShopError::not_found())?;
    let email = crate::domain::Email::parse(&email)?;
    // Only the browser that opened the order may change it.
    if ssr::cookie_order().await.as_ref() != Some(&order_id) {
        return Err(ShopError::not_found());
    }
    let state = crate::state::app_state()?;
    let order = ssr::load_order(&state, &order_id)
        .await?
        .ok_or_else(ShopError::not_found)?;
    if !order.status.is_open() || order.status == crate::domain::OrderStatus::Processing {
        return Err(ShopError::NotPayable.with_status());
    }
    sqlx::query("update customer_order set email = $2, updated_at = now() where id = $1")
        .bind(order.id)
        .bind(email.as_str())
        .execute(&state.pool)
        .await
        .or_internal("Failed to save an order's email")?;
    if let Some(pi) = &order.payment_intent_id {
        use sha2::Digest;
        let digest = hex::encode(&sha2::Sha256::digest(email.as_str().as_bytes())[..12]);
        let key = IdempotencyKey::new(format!("order-{}-email-{digest}", order.public_id))
            .or_internal("bad idempotency key")?;
        UpdatePaymentIntent::new(pi.as_str())
            .receipt_email(email.as_str())
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&state.stripe)
            .await
            .map_err(|e| ShopError::stripe("Failed to set a PaymentIntent's receipt email", e))?;
    }
    Ok(())
}

/// The form under a product: email, the Payment Element and a pay button that says the amount.
/// An island: the server renders it, the browser hydrates it and mounts Stripe's form.
#[island]
pub fn CheckoutForm(slug: String, price: Money) -> impl IntoView {
    let (email, set_email) = signal(String::new());
    let (message, set_message) = signal(None::<String>);
    let (busy, set_busy) = signal(false);
    #[allow(unused_variables)]
    let (ready, set_ready) = signal(false);
    let price = price.to_string();
    let pay_label = {
        let price = price.clone();
        move || {
            if busy.get() {
                format!("Paying {price}…")
            } else {
                format!("Pay {price}")
            }
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
