//! What the shop's pages share, rendered on the server only: error pages, a form's error,
//! metadata and product previews. (The islands the browser hydrates are in `app::islands`.)

mod form_error;
mod preview;
mod seo;

use leptos::prelude::*;
use leptos_meta::Title;

use app::error::ShopError;

pub use form_error::FormError;
pub use preview::Preview;
pub use seo::{PageMeta, ProductData};

/// A `<title>` from text that may come from the database. leptos_meta writes a title into the
/// head without escaping it (0.8.7), so a product named `</title><script>…` would run; this
/// escapes it first. Titles are only rendered on the server (the pages are not hydrated).
#[component]
pub fn PageTitle(#[prop(into)] text: String) -> impl IntoView {
    view! { <Title text=html_escape::encode_text(&text).into_owned()/> }
}

/// A page that could not be shown, in the shop's layout: a title and heading that say what
/// happened, the shop's own message, and a way on. (The response's status was set by the server
/// function that failed: 404, 500, 503 and so on.)
#[component]
pub fn ErrorList(errors: ArcRwSignal<Errors>) -> impl IntoView {
    let error = errors
        .get_untracked()
        .into_iter()
        .next()
        .and_then(|(_, e)| (**e).downcast_ref::<ShopError>().cloned())
        .unwrap_or(ShopError::Internal);
    let heading = match &error {
        ShopError::NotFound => "Page not found",
        ShopError::SignInRequired => "Please sign in",
        ShopError::Forbidden => "For the shop's staff",
        ShopError::Busy | ShopError::PaymentsUnavailable | ShopError::Network => "The shop is busy",
        ShopError::Internal => "Something went wrong",
        ShopError::Invalid(_) | ShopError::NotPayable | ShopError::TooManyRequests => {
            "That didn't work"
        }
    };
    let sign_in = error == ShopError::SignInRequired;
    view! {
        <PageTitle text=heading/>
        <section class="problem">
            <h1>{heading}</h1>
            <p role="alert">{error.to_string()}</p>
            <p class="way-on">
                {sign_in.then(|| view! { <a href="/sign-in">"Sign in"</a> " · " })}
                <a href="/">"Back to the catalog"</a>
            </p>
        </section>
    }
}

/// `<Routes>`' fallback: no page has this address. Answered with 404.
#[component]
pub fn NotFound() -> impl IntoView {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <PageTitle text="Page not found"/>
        <section class="problem">
            <h1>"Page not found"</h1>
            <p>"There is no page at this address. It may have moved, or the link may be mistyped."</p>
            <p class="way-on"><a href="/">"Back to the catalog"</a></p>
        </section>
    }
}
