//! Pieces pages are built from. `checkout_form` and `live_order` are islands: the only parts of
//! a page the browser hydrates.

mod checkout_form;
mod form_error;
mod live_order;

use leptos::prelude::*;
use leptos_meta::Title;

pub use checkout_form::CheckoutForm;
pub use form_error::{FormError, form_error};
pub use live_order::LiveOrder;

/// A `<title>` from text that may come from the database. leptos_meta writes a title into the
/// head without escaping it (0.8.7), so a product named `</title><script>…` would run; this
/// escapes it first. Titles are only rendered on the server (the pages are not hydrated).
#[component]
pub fn PageTitle(#[prop(into)] text: String) -> impl IntoView {
    view! { <Title text=html_escape::encode_text(&text).into_owned()/> }
}

/// Errors as the shopper reads them.
#[component]
pub fn ErrorList(errors: ArcRwSignal<Errors>) -> impl IntoView {
    view! {
        <div class="error" role="alert">
            {move || errors.get().into_iter().map(|(_, e)| view! { <p>{e.to_string()}</p> }).collect_view()}
        </div>
    }
}
