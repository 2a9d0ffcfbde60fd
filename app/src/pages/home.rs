//! `/`: the catalog.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::list_products;
use crate::components::{ErrorList, PageMeta, Preview};

#[component]
pub fn HomePage() -> impl IntoView {
    let products = Resource::new(|| (), |_| list_products());
    view! {
        <Title text=""/>
        <PageMeta
            title="Digital goods"
            description="Files, credit packs and memberships, delivered the moment you pay."
            path="/"
        />
        <Suspense fallback=|| view! { <p>"Loading the catalog…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                {move || Suspend::new(async move {
                    products.await.map(|list| view! {
                        <h1>"Digital goods"</h1>
                        <p class="lede">"Pay on this page, and download straight away."</p>
                        {list.is_empty().then(|| view! { <p>"Nothing for sale yet. Please come back soon."</p> })}
                        <ul class="catalog">
                            {list.into_iter().map(|p| view! { <ProductCard product=p/> }).collect_view()}
                        </ul>
                    })
                })}
            </ErrorBoundary>
        </Suspense>
    }
}

/// One product in the catalog: picture, title (the link), what it gives and its price.
#[component]
fn ProductCard(product: crate::models::Product) -> impl IntoView {
    let href = format!("/products/{}", product.slug);
    let gives = product.gives();
    view! {
        <li class="product-card">
            <Preview product=product.clone()/>
            <div class="card-body">
                <p class="kind">{product.kind.label()}</p>
                <h2><a href=href>{product.title.clone()}</a></h2>
                {gives.map(|g| view! { <p class="gives">{g}</p> })}
                <p class="price">{product.price_label()}</p>
            </div>
        </li>
    }
}
