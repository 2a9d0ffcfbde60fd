//! storefront's application: pages, components, server functions and domain types, shared by
//! the server (feature `ssr`) and the hydrating wasm bundle (feature `hydrate`).

pub mod catalog;
#[cfg(feature = "ssr")]
pub mod catalog_cache;
pub mod checkout;
pub mod domain;
pub mod error;
#[cfg(feature = "ssr")]
pub mod fulfillment;
pub mod money;
pub mod orders;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "hydrate")]
mod stripe_js;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::SsrMode;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

// Full pages rendered before they are sent (`SsrMode::Async`): a shopper without JavaScript,
// a crawler and a test all read the same complete HTML. Pages are plain server HTML with
// islands: only `#[island]` components (the checkout form, a live order status) run in the
// browser, so navigation is ordinary page loads and the wasm bundle holds only those.

/// The HTML document around the app. `stripe_js_url` is loaded on every page, as Stripe
/// recommends, so the payment form is ready when the shopper reaches it.
pub fn shell(options: LeptosOptions, stripe_js_url: String) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="data:,"/>
                <script src=stripe_js_url></script>
                <AutoReload options=options.clone()/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// A `<title>` from text that may come from the database. leptos_meta writes a title into the
/// head without escaping it (0.8.7), so a product named `</title><script>…` would run; this
/// escapes it first. Titles are only rendered on the server (the pages are not hydrated).
#[component]
pub fn PageTitle(#[prop(into)] text: String) -> impl IntoView {
    view! { <Title text=html_escape::encode_text(&text).into_owned()/> }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/storefront.css"/>
        <Title text="storefront"/>
        <Router>
            <header class="site-header">
                <a href="/" class="brand">"storefront"</a>
            </header>
            <main>
                <Routes fallback=|| view! { <h1>"Page not found"</h1> }>
                    <Route path=path!("") view=catalog::CatalogPage ssr=SsrMode::Async/>
                    <Route path=path!("/products/:slug") view=catalog::ProductPage ssr=SsrMode::Async/>
                    <Route path=path!("/orders/:id") view=orders::OrderPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}

/// Starts the browser side; the islands on the page then hydrate themselves.
#[cfg(feature = "hydrate")]
pub fn hydrate() {
    leptos::mount::hydrate_islands();
}
