//! The error a plain HTML form was sent back with. The forms post straight to server
//! functions, so they work without JavaScript and add nothing to the wasm bundle: on failure
//! Leptos sends the browser back to the form with the error in the URL (`__path`, `__err`), and
//! the form shows it here.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use app::error::ShopError;

/// The error a form's server function sent the browser back with, if it is this form's, in
/// words the shop itself would use: the URL can be edited by anyone, so free text from it is
/// never shown, only the shop's own messages.
fn form_error(function: &'static str) -> impl Fn() -> Option<String> + Copy {
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

fn decode_error(encoded: &str) -> Option<ShopError> {
    use base64::Engine;
    use leptos::server_fn::error::FromServerFnError;
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(encoded)
        .ok()?;
    Some(ShopError::de(bytes.into()))
}

/// The messages forms can fail with, for `describe`'s check.
const FORM_MESSAGES: &[&str] = &[
    app::api::WRONG_CREDENTIALS,
    app::api::BAD_LINK,
    app::api::UNVERIFIED,
    app::api::WRONG_PASSWORD_FOR_LINK,
    app::domain::SHORT_PASSWORD,
    app::domain::LONG_PASSWORD,
    app::domain::BAD_EMAIL,
    app::domain::NOT_ENOUGH_CREDITS,
    app::domain::NOT_FOR_CREDITS,
    app::domain::CREDIT_PRICE_CHANGED,
    app::domain::NOT_FREE,
    app::domain::FREE_NOT_SOLD,
    app::domain::RELOAD_AND_RETRY,
    app::domain::REFUND_CHANGED,
    app::domain::NOT_REFUNDABLE,
    app::domain::REFUND_WINDOW_PASSED,
    app::domain::REFUND_DISPUTED,
    app::domain::ALREADY_REFUNDED,
    app::domain::PACK_SPENT,
    app::domain::REFUND_REFUSED,
    app::domain::NOT_REFUNDABLE_ADMIN,
    app::domain::REFUND_AMOUNT_POSITIVE,
    app::domain::REFUND_MORE_THAN_LEFT,
    app::domain::REFUND_UNDER_WAY,
    app::domain::REFUND_REFUSED_ADMIN,
    app::domain::AMOUNT_UNREADABLE,
    app::domain::AMOUNT_WHOLE,
    app::domain::AMOUNT_DECIMALS,
    app::domain::AMOUNT_COMMA,
];

/// The admin's catalog messages.
const CATALOG_MESSAGES: &[&str] = &[
    app::catalog::edit::TITLE_LENGTH,
    app::catalog::edit::DESCRIPTION_LENGTH,
    app::catalog::edit::BAD_SLUG,
    app::catalog::edit::SLUG_TAKEN,
    app::catalog::edit::PACK_NEEDS_CREDITS,
    app::catalog::edit::BAD_CREDITS,
    app::catalog::edit::PRICE_TOO_LOW,
    app::catalog::edit::PRICE_TOO_HIGH,
    app::catalog::edit::CHANGED_MEANWHILE,
    app::catalog::edit::NEEDS_FILE,
    app::catalog::edit::UNPUBLISH_FIRST,
    app::catalog::edit::ARCHIVED,
    app::catalog::edit::BAD_CURRENCY,
    app::catalog::edit::BAD_KIND,
    app::catalog::edit::BAD_MEMBERSHIP_DAYS,
];

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
