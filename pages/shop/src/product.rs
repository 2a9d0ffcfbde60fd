//! `/products/:slug`: one product and the ways to get it: the pay form, "Add to library" for a
//! free product, "Unlock" with credits where the product has a credit price, or, for a file the
//! shopper owns already, its download.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use app::api::{current_account, get_product, owned_file};
use app::domain::{ProductKind, group_thousands};
use app::islands::{CheckoutForm, PRICE_LINE_ID};
use app::models::{Account, Product};
use app::state::AppState;

use page_parts::{ErrorList, FormError, PageMeta, PageTitle, Preview, ProductData};

#[component]
pub fn ProductPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let product = Resource::new(slug, get_product);
    let owned = Resource::new(slug, owned_file);
    let account = Resource::new(|| (), |_| current_account());
    // Public by design: Stripe.js needs it in the browser to mount the payment form.
    let publishable_key = use_context::<AppState>()
        .map(|state| state.public.publishable_key.clone())
        .unwrap_or_default();
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                {move || {
                    let publishable_key = publishable_key.clone();
                    Suspend::new(async move {
                        // A file already owned is downloaded, not bought again. (Credits and
                        // memberships may be bought again: they always show the form.)
                        let owned = owned.await.ok().flatten();
                        let account = account.await.ok().flatten();
                        product.await.map(|p| {
                            let get = match (owned, p.price) {
                                (Some(order), _) => view! {
                                    <div class="owned" role="status">
                                        <p>"In your library."</p>
                                        <a class="download" href=format!("/library/{order}/download")>"Download"</a>
                                    </div>
                                }.into_any(),
                                (None, None) => view! { <AddFree product=p.clone() account=account.clone()/> }.into_any(),
                                (None, Some(price)) => view! {
                                    {p.price_credits.map(|credits| view! {
                                        <Unlock slug=p.slug.clone() credits account=account.clone()/>
                                    })}
                                    <CheckoutForm slug=p.slug.clone() price publishable_key=publishable_key.clone()/>
                                    // Outside the island: the browser does not hydrate it.
                                    <noscript>
                                        <p class="form-note">"Paying needs JavaScript, which is off in this browser."</p>
                                    </noscript>
                                }.into_any(),
                            };
                            // A pack says what it adds in its own line below.
                            let gives = p.gives().filter(|_| p.kind != ProductKind::Credits);
                            let delivery = match (p.price, p.kind) {
                                (None, _) => "Free: add it to your library.",
                                (_, ProductKind::Download) => "Download it as soon as you have paid.",
                                (_, ProductKind::Credits) => "Added to your balance as soon as you have paid.",
                                (_, ProductKind::Membership) => "Yours as soon as you have paid.",
                            };
                            let paid = p.price.is_some();
                            view! {
                                <PageTitle text=p.title.clone()/>
                                <PageMeta
                                    title=p.title.clone()
                                    description=p.summary.clone()
                                    path=format!("/products/{}", p.slug)
                                    image=p.preview.clone()
                                    kind="product"
                                />
                                <ProductData product=p.clone()/>
                                <p class="back"><a href="/">"← All products"</a></p>
                                <article class="product">
                                    <div class="product-media">
                                        <Preview product=p.clone() eager=true/>
                                    </div>
                                    <div class="product-info">
                                        <p class="kind">{p.kind.label()}</p>
                                        <h1>{p.title.clone()}</h1>
                                        // Rendered from the seller's Markdown and sanitised on the server.
                                        <div class="description prose" inner_html=p.description_html.clone()></div>
                                    </div>
                                    <section class="buy" aria-label="Buy">
                                        // The checkout island rewrites it if the price changed since.
                                        <p class="price" id=PRICE_LINE_ID>{p.price_label()}</p>
                                        <ul class="facts">
                                            {gives.map(|g| view! { <li><span class="fact">"You get: "</span>{g}</li> })}
                                            {p.credits.map(|n| view! {
                                                <li class="gets">{format!("Adds {} credits to your balance.", group_thousands(n))}</li>
                                            })}
                                            <li>{delivery}</li>
                                            {paid.then(|| view! {
                                                <li>{refund_line()} " " <a href="/refund-policy">"Refund policy"</a></li>
                                            })}
                                        </ul>
                                        {get}
                                    </section>
                                </article>
                            }
                        })
                    })
                }}
            </ErrorBoundary>
        </Suspense>
    }
}

/// "Add to library" for a free product; a guest is asked to sign in first (a library is an
/// account's).
#[component]
fn AddFree(product: Product, account: Option<Account>) -> impl IntoView {
    if account.is_none() {
        return view! {
            <p class="free">
                <a href="/sign-in">"Sign in"</a> " or " <a href="/sign-up">"create an account"</a>
                " to add this to your library for free."
            </p>
        }
        .into_any();
    }
    view! {
        <form method="post" action="/api/add_to_library" class="free" aria-label="Add to your library">
            <input type="hidden" name="slug" value=product.slug/>
            <FormError function="/api/add_to_library"/>
            <button type="submit">"Add to library"</button>
        </form>
    }
    .into_any()
}

/// "Unlock with credits", for a product that has a credit price. The form carries a one-time
/// key, so sending it twice (a double click, a reload) spends once.
#[component]
fn Unlock(slug: String, credits: i64, account: Option<Account>) -> impl IntoView {
    let price = group_thousands(credits);
    let Some(account) = account else {
        return view! {
            <p class="unlock">{format!("Or unlock it for {price} credits: ")} <a href="/sign-in">"sign in"</a></p>
        }
        .into_any();
    };
    if account.credits < credits {
        return view! {
            <p class="unlock">
                {format!("Or unlock it for {price} credits (you have {}).", group_thousands(account.credits))}
            </p>
        }
        .into_any();
    }
    view! {
        <form method="post" action="/api/unlock_with_credits" class="unlock" aria-label="Unlock with credits">
            <input type="hidden" name="slug" value=slug/>
            <input type="hidden" name="credits" value=credits.to_string()/>
            <input type="hidden" name="key" value=spend_key()/>
            <p>{format!("You have {} credits.", group_thousands(account.credits))}</p>
            <FormError function="/api/unlock_with_credits"/>
            <button type="submit">{format!("Unlock for {price} credits")}</button>
        </form>
    }
    .into_any()
}

/// The refund window in a few words, from the shop's settings.
fn refund_line() -> String {
    let Some(state) = use_context::<app::state::AppState>() else {
        return String::new();
    };
    match app::policies::refund_days(state.refund_window) {
        0 => "No refunds from your account.".to_string(),
        1 => "Refundable within 1 day.".to_string(),
        days => format!("Refundable within {days} days."),
    }
}

/// A fresh key for a spend form (made on the server; these pages are not hydrated).
fn spend_key() -> String {
    app::library::SpendKey::generate().as_str().to_string()
}
