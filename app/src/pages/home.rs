//! `/`: the catalog.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::list_products;
use crate::components::ErrorList;

#[component]
pub fn HomePage() -> impl IntoView {
    let products = Resource::new(|| (), |_| list_products());
    view! {
        <Title text="storefront"/>
        <h1>"Digital goods"</h1>
        <Suspense fallback=|| view! { <p>"Loading the catalog…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                {move || Suspend::new(async move {
                    products.await.map(|list| view! {
                        <ul class="catalog">
                            {list.into_iter().map(|p| view! {
                                <li class="product-card">
                                    {p.preview.clone().map(|src| view! {
                                        <img class="preview" src=src alt="" loading="lazy"/>
                                    })}
                                    <a href=format!("/products/{}", p.slug)>
                                        <h2>{p.title.clone()}</h2>
                                    </a>
                                    <p class="kind">{p.kind.label()}</p>
                                    <p class="price">{p.price_label()}</p>
                                </li>
                            }).collect_view()}
                        </ul>
                    })
                })}
            </ErrorBoundary>
        </Suspense>
    }
}
