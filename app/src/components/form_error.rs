//! The error a plain HTML form was sent back with. The forms post straight to server
//! functions, so they work without JavaScript and add nothing to the wasm bundle: on failure
//! Leptos sends the browser back to the form with the error in the URL (`__path`, `__err`), and
//! the form shows it here.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::error::ShopError;

/// The error a form's server function sent the browser back with, if it is this form's, in
/// words the shop itself would use: the URL can be edited by anyone, so free text from it is
/// never shown, only the shop's own messages.
pub fn form_error(function: &'static str) -> impl Fn() -> Option<String> + Copy {
    let query = use_query_map();
    move || {
        let query = query.read();
        if query.get("__path").as_deref() != Some(function) {
            return None;
        }
        Some(describe(
            query.get("__err").as_deref().and_then(decode_error),
        ))
    }
}

#[cfg(feature = "ssr")]
fn decode_error(encoded: &str) -> Option<ShopError> {
    use base64::Engine;
    use leptos::server_fn::error::FromServerFnError;
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(encoded)
        .ok()?;
    Some(ShopError::de(bytes.into()))
}

#[cfg(not(feature = "ssr"))]
fn decode_error(_: &str) -> Option<ShopError> {
    None
}

/// The messages forms can fail with, for `describe`'s check.
const FORM_MESSAGES: &[&str] = &[
    crate::api::WRONG_CREDENTIALS,
    crate::api::BAD_LINK,
    crate::api::UNVERIFIED,
    crate::api::WRONG_PASSWORD_FOR_LINK,
    crate::domain::SHORT_PASSWORD,
    crate::domain::LONG_PASSWORD,
    crate::domain::BAD_EMAIL,
    crate::domain::NOT_ENOUGH_CREDITS,
    crate::domain::NOT_FOR_CREDITS,
    crate::domain::CREDIT_PRICE_CHANGED,
    crate::domain::NOT_FREE,
    crate::domain::FREE_NOT_SOLD,
    crate::domain::RELOAD_AND_RETRY,
    crate::domain::REFUND_CHANGED,
    crate::domain::NOT_REFUNDABLE,
    crate::domain::REFUND_WINDOW_PASSED,
    crate::domain::REFUND_DISPUTED,
    crate::domain::ALREADY_REFUNDED,
    crate::domain::PACK_SPENT,
    crate::domain::REFUND_REFUSED,
    crate::domain::NOT_REFUNDABLE_ADMIN,
    crate::domain::REFUND_AMOUNT_POSITIVE,
    crate::domain::REFUND_MORE_THAN_LEFT,
    crate::domain::REFUND_UNDER_WAY,
    crate::domain::REFUND_REFUSED_ADMIN,
    crate::domain::AMOUNT_UNREADABLE,
    crate::domain::AMOUNT_WHOLE,
    crate::domain::AMOUNT_DECIMALS,
    crate::domain::AMOUNT_COMMA,
];

/// The admin's catalog messages (server side only: the catalog's editing is).
#[cfg(feature = "ssr")]
const CATALOG_MESSAGES: &[&str] = &[
    crate::catalog::edit::TITLE_LENGTH,
    crate::catalog::edit::DESCRIPTION_LENGTH,
    crate::catalog::edit::BAD_SLUG,
    crate::catalog::edit::SLUG_TAKEN,
    crate::catalog::edit::PACK_NEEDS_CREDITS,
    crate::catalog::edit::BAD_CREDITS,
    crate::catalog::edit::PRICE_TOO_LOW,
    crate::catalog::edit::PRICE_TOO_HIGH,
    crate::catalog::edit::CHANGED_MEANWHILE,
    crate::catalog::edit::NEEDS_FILE,
    crate::catalog::edit::UNPUBLISH_FIRST,
    crate::catalog::edit::ARCHIVED,
    crate::catalog::edit::BAD_CURRENCY,
    crate::catalog::edit::BAD_KIND,
    crate::catalog::edit::BAD_MEMBERSHIP_DAYS,
];
#[cfg(not(feature = "ssr"))]
const CATALOG_MESSAGES: &[&str] = &[];

fn describe(error: Option<ShopError>) -> String {
    match error {
        Some(ShopError::Invalid(message))
            if FORM_MESSAGES.contains(&message.as_str())
                || CATALOG_MESSAGES.contains(&message.as_str()) =>
        {
            message
        }
        Some(ShopError::Invalid(_)) | None => {
            "Please check what you entered and try again.".to_string()
        }
        Some(other) => other.to_string(),
    }
}

/// Where a form shows the error it was sent back with, announced to screen readers.
#[component]
pub fn FormError(function: &'static str) -> impl IntoView {
    let error = form_error(function);
    view! { <p class="form-error" role="alert" aria-live="polite">{error}</p> }
}
