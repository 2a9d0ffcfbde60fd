//! Stripe.js in the browser, through wasm-bindgen: the raw bindings, then `PaymentForm`, the
//! safe wrapper the checkout component uses. Nothing outside this module touches a `JsValue`.

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::domain::Money;

mod bindings {
    use super::*;

    #[wasm_bindgen]
    extern "C" {
        /// The object `Stripe(publishableKey)` returns.
        #[derive(Clone)]
        pub type Stripe;

        #[wasm_bindgen(catch, js_name = Stripe)]
        pub fn stripe(publishable_key: &str) -> Result<Stripe, JsValue>;

        #[wasm_bindgen(method)]
        pub fn elements(this: &Stripe, options: &JsValue) -> Elements;

        #[wasm_bindgen(method, js_name = confirmPayment)]
        pub fn confirm_payment(this: &Stripe, options: &JsValue) -> Promise;

        #[derive(Clone)]
        pub type Elements;

        #[wasm_bindgen(method)]
        pub fn create(this: &Elements, kind: &str, options: &JsValue) -> PaymentElement;

        #[wasm_bindgen(method)]
        pub fn submit(this: &Elements) -> Promise;

        #[wasm_bindgen(method)]
        pub fn update(this: &Elements, options: &JsValue);

        #[derive(Clone)]
        pub type PaymentElement;

        #[wasm_bindgen(method, catch)]
        pub fn mount(this: &PaymentElement, selector: &str) -> Result<(), JsValue>;
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
    _element: bindings::PaymentElement,
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

impl PaymentForm {
    /// Mounts the Payment Element at `selector` before any PaymentIntent exists (Stripe's
    /// "collect payment details before creating an intent"): the form is usable as soon as
    /// Stripe.js has run, and the intent is made when the shopper pays. `amount` is what the
    /// page shows; it only shapes the form, the intent's amount comes from the order.
    pub fn mount(publishable_key: &str, amount: Money, selector: &str) -> Result<Self, String> {
        let stripe = bindings::stripe(publishable_key).map_err(|e| format!("{e:?}"))?;
        let options = Object::new();
        set(&options, "mode", &JsValue::from_str("payment"));
        amount_options(&options, amount);
        let appearance = Object::new();
        set(&appearance, "theme", &JsValue::from_str("stripe"));
        set(&options, "appearance", &appearance);
        let elements = stripe.elements(&options);
        let element = elements.create("payment", &Object::new());
        element.mount(selector).map_err(|e| format!("{e:?}"))?;
        Ok(Self {
            stripe,
            elements,
            _element: element,
        })
    }

    /// Tells the form the amount the order charges, when it differs from the page's.
    pub fn set_amount(&self, amount: Money) {
        let options = Object::new();
        amount_options(&options, amount);
        self.elements.update(&options);
    }

    /// Checks the form's fields. Stripe.js wants this as soon as the shopper presses pay,
    /// before any other asynchronous work. The error is the message to show.
    pub async fn submit(&self) -> Result<(), String> {
        let submitted = JsFuture::from(self.elements.submit())
            .await
            .map_err(|_| FALLBACK.to_string())?;
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
        let result = JsFuture::from(self.stripe.confirm_payment(&options))
            .await
            .map_err(|_| FALLBACK.to_string())?;
        match error_message(&result) {
            Some(message) => Err(message),
            None if has_payment_intent(&result) => Ok(()),
            None => Err(FALLBACK.into()),
        }
    }
}
