//! storefront's application: pages, components, server functions and domain types, shared by
//! the server (feature `ssr`) and the hydrating wasm bundle (feature `hydrate`).
//!
//! Modules import only from modules below them in this list, never back up:
//!
//! | module | owns | |
//! |---|---|---|
//! | `pages` | one view per route: shop, account, admin | |
//! | `components` | page pieces, and the islands the browser hydrates | |
//! | `stripe_js` | Stripe.js bindings for the checkout island | hydrate |
//! | `api` | the `#[server]` functions, the browser's only way in | |
//! | `state` | `AppState`, handed to server functions | ssr |
//! | `policies` | the terms, refund policy and privacy pages' text | ssr |
//! | `reconcile` | settling from Stripe what webhooks missed | ssr |
//! | `admin` | what the admin reads: sales, orders, the inbox | ssr |
//! | `refunds` | refunds a shopper or an admin asks for, within the refund window | ssr |
//! | `library` | free products added, products unlocked with credits | ssr |
//! | `accounts` | sign-up, sign-in, verification and reset links, guest orders claimed | ssr |
//! | `credits` | the credit ledger: packs added, spends, refunds taken back | ssr |
//! | `files` | bought files in storage, and their signed download links | ssr |
//! | `housekeeping` | expiring open orders, forgetting data past retention | ssr |
//! | `limits` | rate limits on checkout starts and Stripe reads | ssr |
//! | `checkout`, `orders` | opening checkout; an order as its page shows it | ssr |
//! | `inbox` | Stripe events stored, then settled once | ssr |
//! | `fulfillment` | settling orders from what Stripe reports | ssr |
//! | `payment_intents` | every call to Stripe's PaymentIntents API | ssr |
//! | `catalog` | published products, and their in-memory copy | ssr |
//! | `advisory` | Postgres advisory locks for background work | ssr |
//! | `models` | what server functions return | |
//! | `error` | `ShopError`: what the shopper is told, and its status | |
//! | `domain` | money, ids, email, slugs, kinds, statuses | |

#[cfg(feature = "ssr")]
pub mod accounts;
#[cfg(feature = "ssr")]
pub mod admin;
#[cfg(feature = "ssr")]
pub mod advisory;
pub mod api;
#[cfg(feature = "ssr")]
pub mod catalog;
#[cfg(feature = "ssr")]
pub mod checkout;
pub mod components;
#[cfg(feature = "ssr")]
pub mod credits;
pub mod domain;
pub mod error;
#[cfg(feature = "ssr")]
pub mod files;
#[cfg(feature = "ssr")]
pub mod fulfillment;
#[cfg(feature = "ssr")]
pub mod housekeeping;
#[cfg(feature = "ssr")]
pub mod inbox;
#[cfg(feature = "ssr")]
pub mod library;
#[cfg(feature = "ssr")]
pub mod limits;
pub mod models;
#[cfg(feature = "ssr")]
pub mod orders;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod payment_intents;
#[cfg(feature = "ssr")]
pub mod policies;
#[cfg(feature = "ssr")]
pub mod reconcile;
#[cfg(feature = "ssr")]
pub mod refunds;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "hydrate")]
mod stripe_js;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};

use crate::components::NotFound;
use crate::models::Policy;
use crate::pages::{
    AccountPage, AdminEventsPage, AdminHomePage, AdminNewProductPage, AdminOrderPage,
    AdminOrdersPage, AdminProductPage, AdminProductsPage, ForgotPasswordPage, HomePage,
    LibraryPage, OrderPage, PolicyPage, ProductPage, ReceiptPage, ResetPasswordPage, SignInPage,
    SignUpPage, VerifyEmailPage,
};
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
    // Not on the pages a mailed link opens: their URL carries the link's token, and a
    // third-party script can read the URL.
    #[cfg(feature = "ssr")]
    let stripe_js_url = use_context::<axum::http::request::Parts>()
        .filter(|parts| matches!(parts.uri.path(), "/verify-email" | "/reset-password"))
        .map_or(Some(stripe_js_url), |_| None);
    #[cfg(not(feature = "ssr"))]
    let stripe_js_url = Some(stripe_js_url);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="data:,"/>
                // `async`: on a slow network a script in the head would hold the page (and
                // the hydration script behind it) until it arrived; the checkout waits for it.
                {stripe_js_url.map(|src| view! { <script src=src async="" data-stripe-js=""></script> })}
                <AutoReload disable_watch=!live_reload() options=options.clone()/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Whether pages carry cargo-leptos's live-reload script: only when `cargo leptos watch` runs
/// the server, which it tells by `LEPTOS_RELOAD_PORT`. (`LEPTOS_WATCH`, which leptos itself
/// asks for, is set for every build and test run by .cargo/config.toml, so that watching reuses
/// their build.)
fn live_reload() -> bool {
    #[cfg(feature = "ssr")]
    {
        static SET: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *SET.get_or_init(|| std::env::var_os("LEPTOS_RELOAD_PORT").is_some())
    }
    #[cfg(not(feature = "ssr"))]
    false
}

/// What every page's header and footer say about the shop. The layout is server HTML (only
/// islands hydrate), so it is read from the server's state.
#[derive(Clone, Default)]
struct Masthead {
    name: String,
    contact_email: String,
    test_mode: bool,
    stylesheet: String,
}

fn masthead() -> Masthead {
    #[cfg(feature = "ssr")]
    if let Some(state) = use_context::<state::AppState>() {
        return Masthead {
            name: state.shop.name.clone(),
            contact_email: state.shop.contact_email.clone(),
            // Every page says so while the shop runs on Stripe's test keys.
            test_mode: !state.live_mode,
            stylesheet: state.shop.stylesheet.clone(),
        };
    }
    Masthead {
        name: "storefront".into(),
        stylesheet: "/pkg/storefront.css".into(),
        ..Masthead::default()
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let Masthead {
        name,
        contact_email,
        test_mode,
        stylesheet,
    } = masthead();
    // Page titles read "Field Recordings · storefront". leptos_meta writes the title
    // unescaped (see `PageTitle`), so the shop's name is escaped here.
    let suffix = html_escape::encode_text(&name).into_owned();
    let formatter = move |text: String| {
        if text.is_empty() || text == suffix {
            suffix.clone()
        } else {
            format!("{text} · {suffix}")
        }
    };
    let mailto = format!("mailto:{contact_email}");
    view! {
        <Stylesheet id="leptos" href=stylesheet/>
        <Title formatter text=""/>
        <Router>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <header class="masthead">
                {test_mode.then(|| view! {
                    <p class="test-mode" role="note">
                        "Test mode: payments use Stripe's test keys, and no real money moves."
                    </p>
                })}
                <div class="site-header">
                    <a href="/" class="brand">{name.clone()}</a>
                    <nav aria-label="Main">
                        <a href="/">"Catalog"</a>
                        <AccountLink/>
                    </nav>
                </div>
            </header>
            <main id="main" tabindex="-1">
                <Routes fallback=NotFound>
                    <Route path=path!("") view=HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/products/:slug") view=ProductPage ssr=SsrMode::Async/>
                    <Route path=path!("/orders/:id") view=OrderPage ssr=SsrMode::Async/>
                    <Route path=path!("/terms") view=|| view! { <PolicyPage policy=Policy::Terms/> } ssr=SsrMode::Async/>
                    <Route path=path!("/refund-policy") view=|| view! { <PolicyPage policy=Policy::RefundPolicy/> } ssr=SsrMode::Async/>
                    <Route path=path!("/privacy") view=|| view! { <PolicyPage policy=Policy::Privacy/> } ssr=SsrMode::Async/>
                    <Route path=path!("/sign-up") view=SignUpPage ssr=SsrMode::Async/>
                    <Route path=path!("/sign-in") view=SignInPage ssr=SsrMode::Async/>
                    <Route path=path!("/verify-email") view=VerifyEmailPage ssr=SsrMode::Async/>
                    <Route path=path!("/forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async/>
                    <Route path=path!("/reset-password") view=ResetPasswordPage ssr=SsrMode::Async/>
                    <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async/>
                    <Route path=path!("/account/orders/:id") view=ReceiptPage ssr=SsrMode::Async/>
                    <Route path=path!("/library") view=LibraryPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin") view=AdminHomePage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/orders") view=AdminOrdersPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/orders/:id") view=AdminOrderPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/events") view=AdminEventsPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/products") view=AdminProductsPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/products/new") view=AdminNewProductPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/products/:slug") view=AdminProductPage ssr=SsrMode::Async/>
                </Routes>
            </main>
            <footer class="site-footer">
                <p class="shop">{name}</p>
                <nav aria-label="Shop policies">
                    <a href="/terms">"Terms"</a>
                    <a href="/refund-policy">"Refund policy"</a>
                    <a href="/privacy">"Privacy"</a>
                    <a href=mailto>{contact_email}</a>
                </nav>
            </footer>
        </Router>
    }
}

/// The library and account for a signed-in shopper, "Sign in" otherwise.
#[component]
fn AccountLink() -> impl IntoView {
    let account = Resource::new(|| (), |_| crate::api::current_account());
    view! {
        <Suspense fallback=|| view! { <a href="/sign-in">"Sign in"</a> }>
            {move || Suspend::new(async move {
                match account.await {
                    Ok(Some(account)) => view! {
                        <a href="/library">"Library"</a>
                        <span class="balance">
                            {format!("{} credits", crate::domain::group_thousands(account.credits))}
                        </span>
                        <a href="/account">"Your account"</a>
                        {account.is_admin.then(|| view! { <a href="/admin">"Admin"</a> })}
                    }.into_any(),
                    _ => view! { <a href="/sign-in">"Sign in"</a> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Starts the browser side; the islands on the page then hydrate themselves.
#[cfg(feature = "hydrate")]
pub fn hydrate() {
    leptos::mount::hydrate_islands();
}
