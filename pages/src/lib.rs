//! The shop's pages, rendered on the server: the document shell, the layout around every page
//! and the routes. The pages themselves are in the crates below, by group: `shop-pages`,
//! `account-pages` and `admin-pages`, over `page-parts`. Pages read through `app`'s server
//! functions inside `<Suspense>` and render complete HTML (`SsrMode::Async`); only the islands
//! they place (`app::islands`) run in the browser.
//!
//! Built for the server only. A page edit rebuilds its group's crate; this crate and the
//! binary (`server/bin`) are then recompiled and relinked, reusing their code, since each page
//! reaches them as an `AnyView`. The `server` library does not depend on this crate (the binary
//! hands it `shell` and `app`), and `app` and the wasm bundle stay as they were.

// The whole document's view type is one deeply nested type; erasing it to an `AnyView` for the
// server (`shell`) needs its layout, which is deeper than rustc's default limit of 128.
#![recursion_limit = "256"]

use std::sync::OnceLock;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::SsrMode;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use app::models::Policy;
use app::state::AppState;

use page_parts::NotFound;

// Every route is `SsrMode::Async`: a shopper without JavaScript, a crawler and a test all read
// the same complete HTML, and moving between pages is an ordinary page load.

/// The HTML document around the app. `stripe_js_url` is loaded on every page, as Stripe
/// recommends, so the payment form is ready when the shopper reaches it.
///
/// Returned as an `AnyView`: the server renders it without naming the pages' view types,
/// so a page edit leaves its code as it was.
pub fn shell(options: LeptosOptions, stripe_js_url: String) -> AnyView {
    // Not on the pages a mailed link opens: their URL carries the link's token, and a
    // third-party script can read the URL.
    let stripe_js_url = use_context::<axum::http::request::Parts>()
        .filter(|parts| matches!(parts.uri.path(), "/verify-email" | "/reset-password"))
        .map_or(Some(stripe_js_url), |_| None);
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
    .into_any()
}

/// The whole app, erased to an `AnyView`: the server lists its routes from it
/// (`server::startup::Pages`), so that leptos's route listing is compiled once in the server
/// library rather than again, for this crate's view types, after every page edit.
pub fn app() -> AnyView {
    view! { <App/> }.into_any()
}

/// Whether pages carry cargo-leptos's live-reload script: only when `cargo leptos watch` runs
/// the server, which it tells by `LEPTOS_RELOAD_PORT`. (`LEPTOS_WATCH`, which leptos itself
/// asks for, is set for every build and test run by .cargo/config.toml, so that watching reuses
/// their build.)
fn live_reload() -> bool {
    static SET: OnceLock<bool> = OnceLock::new();
    *SET.get_or_init(|| std::env::var_os("LEPTOS_RELOAD_PORT").is_some())
}

/// What every page's header and footer say about the shop. The layout is server HTML (only
/// islands hydrate), so it is read from the server's state.
#[derive(Default)]
struct Masthead {
    name: String,
    contact_email: String,
    test_mode: bool,
    stylesheet: String,
}

fn masthead() -> Masthead {
    if let Some(state) = use_context::<AppState>() {
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
fn App() -> impl IntoView {
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
                    <Route path=path!("") view=shop_pages::catalog ssr=SsrMode::Async/>
                    <Route path=path!("/products/:slug") view=shop_pages::product ssr=SsrMode::Async/>
                    <Route path=path!("/orders/:id") view=shop_pages::order ssr=SsrMode::Async/>
                    <Route path=path!("/terms") view=|| shop_pages::policy(Policy::Terms) ssr=SsrMode::Async/>
                    <Route path=path!("/refund-policy") view=|| shop_pages::policy(Policy::RefundPolicy) ssr=SsrMode::Async/>
                    <Route path=path!("/privacy") view=|| shop_pages::policy(Policy::Privacy) ssr=SsrMode::Async/>
                    <Route path=path!("/sign-up") view=account_pages::sign_up ssr=SsrMode::Async/>
                    <Route path=path!("/sign-in") view=account_pages::sign_in ssr=SsrMode::Async/>
                    <Route path=path!("/verify-email") view=account_pages::verify_email ssr=SsrMode::Async/>
                    <Route path=path!("/forgot-password") view=account_pages::forgot_password ssr=SsrMode::Async/>
                    <Route path=path!("/reset-password") view=account_pages::reset_password ssr=SsrMode::Async/>
                    <Route path=path!("/account") view=account_pages::account ssr=SsrMode::Async/>
                    <Route path=path!("/account/orders/:id") view=account_pages::receipt ssr=SsrMode::Async/>
                    <Route path=path!("/library") view=account_pages::library ssr=SsrMode::Async/>
                    <Route path=path!("/admin") view=admin_pages::home ssr=SsrMode::Async/>
                    <Route path=path!("/admin/orders") view=admin_pages::orders ssr=SsrMode::Async/>
                    <Route path=path!("/admin/orders/:id") view=admin_pages::order ssr=SsrMode::Async/>
                    <Route path=path!("/admin/events") view=admin_pages::events ssr=SsrMode::Async/>
                    <Route path=path!("/admin/products") view=admin_pages::products ssr=SsrMode::Async/>
                    <Route path=path!("/admin/products/new") view=admin_pages::new_product ssr=SsrMode::Async/>
                    <Route path=path!("/admin/products/:slug") view=admin_pages::product ssr=SsrMode::Async/>
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
    let account = Resource::new(|| (), |_| app::api::current_account());
    view! {
        <Suspense fallback=|| view! { <a href="/sign-in">"Sign in"</a> }>
            {move || Suspend::new(async move {
                match account.await {
                    Ok(Some(account)) => view! {
                        <a href="/library">"Library"</a>
                        <span class="balance">
                            {format!("{} credits", app::domain::group_thousands(account.credits))}
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
