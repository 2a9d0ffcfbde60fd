//! The account's pages: signing up and in, a verified email, a forgotten password, the account
//! with its orders, the library and a receipt. Handed to the routes as `AnyView`s, like the
//! shop's pages (see `shop-pages`).

// Erasing a page's view needs its type's layout, deeper than rustc's default limit of 128.
#![recursion_limit = "256"]

mod account;
mod receipt;

use leptos::prelude::*;

/// `/sign-up`
pub fn sign_up() -> AnyView {
    view! { <account::SignUpPage/> }.into_any()
}

/// `/sign-in`
pub fn sign_in() -> AnyView {
    view! { <account::SignInPage/> }.into_any()
}

/// `/verify-email`, opened from a mailed link.
pub fn verify_email() -> AnyView {
    view! { <account::VerifyEmailPage/> }.into_any()
}

/// `/forgot-password`
pub fn forgot_password() -> AnyView {
    view! { <account::ForgotPasswordPage/> }.into_any()
}

/// `/reset-password`, opened from a mailed link.
pub fn reset_password() -> AnyView {
    view! { <account::ResetPasswordPage/> }.into_any()
}

/// `/account`
pub fn account() -> AnyView {
    view! { <account::AccountPage/> }.into_any()
}

/// `/library`
pub fn library() -> AnyView {
    view! { <account::LibraryPage/> }.into_any()
}

/// `/account/orders/:id`
pub fn receipt() -> AnyView {
    view! { <receipt::ReceiptPage/> }.into_any()
}
