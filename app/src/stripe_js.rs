//! Stripe.js in the browser, through wasm-bindgen: the raw bindings, then `PaymentForm`, the
//! safe wrapper the checkout component uses. Nothing outside this module touches a `JsValue`.

use js_sys::{Object, Promise, Reflect};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

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

        #[derive(Clone)]
        pub type PaymentElement;

        #[wasm_bindgen(method, catch)]
        pub fn mount(this: &PaymentElement, selector: &str) -> Result<(), JsValue>;
    }
}

/// An error from Stripe.js, in its shape; `message` is written for the shopper.
#[derive(Debug, Deserialize)]
struct StripeJsError {
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfirmResult {
    error: Option<StripeJsError>,
    payment_intent: Option<IntentSummary>,
}

#[derive(Debug, Deserialize)]
pub struct IntentSummary {
    pub id: String,
    pub status: String,
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

impl PaymentForm {
    /// Creates the Payment Element for a PaymentIntent and mounts it at `selector`.
    pub fn mount(
        publishable_key: &str,
        client_secret: &str,
        selector: &str,
    ) -> Result<Self, String> {
        let stripe = bindings::stripe(publishable_key).map_err(|e| format!("{e:?}"))?;
        let options = Object::new();
        set(&options, "clientSecret", &JsValue::from_str(client_secret));
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

    /// Checks the form, then confirms the payment in the browser (3D Secure included). Redirects
    /// only for payment methods that need it; cards come back here. The error is the message to
    /// show next to the form.
    pub async fn confirm(&self, return_url: &str, email: &str) -> Result<IntentSummary, String> {
        let submitted = JsFuture::from(self.elements.submit())
            .await
            .map_err(|_| FALLBACK.to_string())?;
        let submitted: ConfirmResult =
            serde_wasm_bindgen::from_value(submitted).map_err(|_| FALLBACK.to_string())?;
        if let Some(e) = submitted.error {
            return Err(e.message.unwrap_or_else(|| FALLBACK.into()));
        }
        let params = Object::new();
        set(&params, "return_url", &JsValue::from_str(return_url));
        set(&params, "receipt_email", &JsValue::from_str(email));
        let options = Object::new();
        set(&options, "elements", &self.elements);
        set(&options, "confirmParams", &params);
        set(&options, "redirect", &JsValue::from_str("if_required"));
        let result = JsFuture::from(self.stripe.confirm_payment(&options))
            .await
            .map_err(|_| FALLBACK.to_string())?;
        let result: ConfirmResult =
            serde_wasm_bindgen::from_value(result).map_err(|_| FALLBACK.to_string())?;
        match (result.error, result.payment_intent) {
            (Some(e), _) => Err(e.message.unwrap_or_else(|| FALLBACK.into())),
            (None, Some(pi)) => Ok(pi),
            (None, None) => Err(FALLBACK.into()),
        }
    }
}
