//! `/products/:slug`: one product and the form that sells it.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::{get_product, owned_file};
use crate::components::{CheckoutForm, ErrorList, PageTitle};

#[component]
pub fn ProductPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let product = Resource::new(slug, get_product);
    let owned = Resource::new(slug, owned_file);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                {move || Suspend::new(async move {
                    // A file already owned is downloaded, not bought again. (Credits and
                    // memberships may be bought again: they always show the form.)
                    let owned = owned.await.ok().flatten();
                    product.await.map(|p| view! {
                        <PageTitle text=p.title.clone()/>
                        <article class="product">
                            <p class="kind">{p.kind.label()}</p>
                            <h1>{p.title.clone()}</h1>
                            <p class="price">{p.price.to_string()}</p>
                            <p class="description">{p.description.clone()}</p>
                            {match owned {
                                Some(order) => view! {
                                    <div class="owned" role="status">
                                        <p>"In your library."</p>
                                        <a class="download" href=format!("/library/{order}/download")>"Download"</a>
                                    </div>
                                }.into_any(),
                                None => view! { <CheckoutForm slug=p.slug.clone() price=p.price/> }.into_any(),
                            }}
                        </article>
                    })
                })}
            </ErrorBoundary>
        </Suspense>
    }
}
