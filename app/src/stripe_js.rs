//! Stripe.js in the browser, through wasm-bindgen: the raw bindings, then `PaymentForm`, the
//! safe wrapper the checkout component uses. Nothing outside this module touches a `JsValue`.

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::domain::Money;

mod bindings {
    use super::*;

    // Every call that Stripe.js may refuse by throwing (an IntegrationError) is `catch`, so a
    // refusal comes back as an error instead of ending the task that made the call.
    #[wasm_bindgen]
    extern "C" {
        /// The object `Stripe(publishableKey)` returns.
        #[derive(Clone)]
        pub type Stripe;

        #[wasm_bindgen(catch, js_name = Stripe)]
        pub fn stripe(publishable_key: &str) -> Result<Stripe, JsValue>;

        #[wasm_bindgen(method, catch)]
        pub fn elements(this: &Stripe, options: &JsValue) -> Result<Elements, JsValue>;

        #[wasm_bindgen(method, catch, js_name = confirmPayment)]
        pub fn confirm_payment(this: &Stripe, options: &JsValue) -> Result<Promise, JsValue>;

        #[wasm_bindgen(method, catch, js_name = retrievePaymentIntent)]
        pub fn retrieve_payment_intent(
            this: &Stripe,
            client_secret: &str,
        ) -> Result<Promise, JsValue>;

        #[derive(Clone)]
        pub type Elements;

        #[wasm_bindgen(method, catch)]
        pub fn create(
            this: &Elements,
            kind: &str,
            options: &JsValue,
        ) -> Result<PaymentElement, JsValue>;

        #[wasm_bindgen(method, catch)]
        pub fn submit(this: &Elements) -> Result<Promise, JsValue>;

        #[wasm_bindgen(method, catch)]
        pub fn update(this: &Elements, options: &JsValue) -> Result<(), JsValue>;

        #[derive(Clone)]
        pub type PaymentElement;

        #[wasm_bindgen(method, catch)]
        pub fn mount(this: &PaymentElement, selector: &str) -> Result<(), JsValue>;

        #[wasm_bindgen(method)]
        pub fn on(this: &PaymentElement, event: &str, handler: &js_sys::Function);
    }
}

/// The shopper-facing message of a Stripe.js answer shaped `{error: {type, code, message}}`,
/// or `None` when the answer carries no error. Read with `Reflect` rather than serde, which
/// keeps a deserializer for JS values out of the bundle.
fn error_message(answer: &JsValue) -> Option<String> {
    let error = Reflect::get(answer, &JsValue::from_str("error"))
        .ok()
        .filter(JsValue::is_object)?;
    let message = Reflect::get(&error, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string());
    Some(message.unwrap_or_else(|| FALLBACK.into()))
}

fn has_payment_intent(answer: &JsValue) -> bool {
    Reflect::get(answer, &JsValue::from_str("paymentIntent")).is_ok_and(|pi| pi.is_object())
}

/// What the shopper is told when Stripe.js or the Payment Element is not there.
pub const NOT_LOADED: &str = "The payment form could not be loaded. Please reload the page.";

/// Waits until Stripe.js has run. The page loads it with `async`, so that on a slow network it
/// never holds up the page or the island's hydration; the checkout waits for it here instead.
pub async fn loaded() -> Result<(), String> {
    let window = web_sys::window().ok_or(NOT_LOADED)?;
    let ready =
        || Reflect::get(&window, &JsValue::from_str("Stripe")).is_ok_and(|s| s.is_function());
    if ready() {
        return Ok(());
    }
    let script = window
        .document()
        .and_then(|d| d.query_selector("script[data-stripe-js]").ok().flatten())
        .ok_or(NOT_LOADED)?;
    // Nothing runs between the check above and these listeners, so the load cannot be missed.
    let done = Promise::new(&mut |resolve, reject| {
        let _ = script.add_event_listener_with_callback("load", &resolve);
        let _ = script.add_event_listener_with_callback("error", &reject);
    });
    JsFuture::from(done)
        .await
        .map_err(|_| NOT_LOADED.to_string())?;
    if ready() {
        Ok(())
    } else {
        Err(NOT_LOADED.into())
    }
}

/// A mounted Payment Element and the Stripe.js objects behind it.
#[derive(Clone)]
pub struct PaymentForm {
    stripe: bindings::Stripe,
    elements: bindings::Elements,
    element: bindings::PaymentElement,
}

fn set(target: &Object, key: &str, value: &JsValue) {
    // Reflect::set only fails on frozen objects; these are fresh.
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

const FALLBACK: &str = "The payment could not be completed. Please try again.";

/// The `amount` and `currency` options of an Elements group, as Stripe.js reads them: minor
/// units and the lowercase ISO code.
fn amount_options(options: &Object, amount: Money) {
    set(options, "amount", &JsValue::from_f64(amount.minor() as f64));
    set(
        options,
        "currency",
        &JsValue::from_str(amount.currency().code()),
    );
}

/// What Stripe.js threw or rejected with, for the log (never for the shopper).
fn describe(thrown: &JsValue) -> String {
    thrown
        .as_string()
        .or_else(|| {
            Reflect::get(thrown, &JsValue::from_str("message"))
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| format!("{thrown:?}"))
}

/// Awaits a Stripe.js promise; a rejection is logged and becomes the general message.
async fn settle(promise: Result<Promise, JsValue>) -> Result<JsValue, String> {
    let answer = match promise {
        Ok(promise) => JsFuture::from(promise).await,
        Err(thrown) => Err(thrown),
    };
    answer.map_err(|thrown| {
        leptos::logging::error!("Stripe.js refused a call: {}", describe(&thrown));
        FALLBACK.to_string()
    })
}

impl PaymentForm {
    /// Mounts the Payment Element at `selector` before any PaymentIntent exists (Stripe's
    /// "collect payment details before creating an intent"): the form needs no round trip to
    /// the shop, and the intent is made when the shopper pays. `amount` is what the page shows;
    /// it only shapes the form, the intent's amount comes from the order. The error is for the
    /// log.
    pub fn mount(publishable_key: &str, amount: Money, selector: &str) -> Result<Self, String> {
        let stripe = bindings::stripe(publishable_key).map_err(|e| describe(&e))?;
        let options = Object::new();
        set(&options, "mode", &JsValue::from_str("payment"));
        amount_options(&options, amount);
        let appearance = Object::new();
        set(&appearance, "theme", &JsValue::from_str("stripe"));
        set(&options, "appearance", &appearance);
        let elements = stripe.elements(&options).map_err(|e| describe(&e))?;
        let element = elements
            .create("payment", &Object::new())
            .map_err(|e| describe(&e))?;
        element.mount(selector).map_err(|e| describe(&e))?;
        Ok(Self {
            stripe,
            elements,
            element,
        })
    }

    /// Waits until the mounted form can be used (its `ready` event); its `loaderror` event
    /// (a refused key, an amount or currency Stripe will not take) is the error, for the log.
    pub async fn ready(&self) -> Result<(), String> {
        let loaded = Promise::new(&mut |resolve, reject| {
            self.element.on("ready", &resolve);
            self.element.on("loaderror", &reject);
        });
        JsFuture::from(loaded).await.map(|_| ()).map_err(|event| {
            let error = Reflect::get(&event, &JsValue::from_str("error")).unwrap_or(event);
            describe(&error)
        })
    }

    /// Tells the form the amount the order charges, when it differs from the page's.
    pub fn set_amount(&self, amount: Money) {
        let options = Object::new();
        amount_options(&options, amount);
        if let Err(thrown) = self.elements.update(&options) {
            leptos::logging::error!("Stripe.js refused the new amount: {}", describe(&thrown));
        }
    }

    /// Checks the form's fields. Stripe.js wants this as soon as the shopper presses pay,
    /// before any other asynchronous work. The error is the message to show.
    pub async fn submit(&self) -> Result<(), String> {
        let submitted = settle(self.elements.submit()).await?;
        match error_message(&submitted) {
            Some(message) => Err(message),
            None => Ok(()),
        }
    }

    /// Confirms the order's PaymentIntent with what the form holds (3D Secure included), after
    /// a successful `submit`. Redirects only for payment methods that need it; cards come back
    /// here. The error is the message to show next to the form.
    pub async fn confirm(
        &self,
        client_secret: &str,
        return_url: &str,
        email: &str,
    ) -> Result<(), String> {
        let params = Object::new();
        set(&params, "return_url", &JsValue::from_str(return_url));
        set(&params, "receipt_email", &JsValue::from_str(email));
        let options = Object::new();
        set(&options, "elements", &self.elements);
        set(&options, "clientSecret", &JsValue::from_str(client_secret));
        set(&options, "confirmParams", &params);
        set(&options, "redirect", &JsValue::from_str("if_required"));
        let result = settle(self.stripe.confirm_payment(&options)).await?;
        match error_message(&result) {
            Some(message) => Err(message),
            None if has_payment_intent(&result) => Ok(()),
            None => Err(FALLBACK.into()),
        }
    }

    /// Whether the PaymentIntent has been paid (or is being paid) whatever the browser heard:
    /// asked after a confirmation that failed, because its answer may have been lost on the way.
    pub async fn paid(&self, client_secret: &str) -> bool {
        let Ok(answer) = settle(self.stripe.retrieve_payment_intent(client_secret)).await else {
            return false;
        };
        Reflect::get(&answer, &JsValue::from_str("paymentIntent"))
            .and_then(|pi| Reflect::get(&pi, &JsValue::from_str("status")))
            .ok()
            .and_then(|status| status.as_string())
            .is_some_and(|status| {
                matches!(
                    status.as_str(),
                    "succeeded" | "processing" | "requires_capture"
                )
            })
    }
}
