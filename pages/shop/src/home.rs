//! `/`: the catalog, `CATALOG_PAGE` products to a page (`/?page=2`), with links from page to
//! page that a crawler follows as a shopper does.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use app::api::list_products;
use app::models::CatalogPage;

use page_parts::{ErrorList, PageMeta, Preview};

#[component]
pub fn HomePage() -> impl IntoView {
    let query = use_query_map();
    // Anything but a page number as the links write it (no sign, no leading zero) is a page
    // that does not exist (0 is refused as one).
    let page = move || {
        query.read().get("page").map(|p| {
            let canonical = !p.starts_with(['0', '+']);
            p.parse::<u32>().ok().filter(|_| canonical).unwrap_or(0)
        })
    };
    let products = Resource::new(page, list_products);
    view! {
        <Suspense fallback=|| view! { <p>"Loading the catalog…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                {move || Suspend::new(async move {
                    products.await.map(|catalog| {
                        let first = catalog.page == 1;
                        view! {
                            <Title text=if first { String::new() } else { format!("Digital goods, page {}", catalog.page) }/>
                            <PageMeta
                                title="Digital goods"
                                description="Files, credit packs and memberships, delivered the moment you pay."
                                path=CatalogPage::href(catalog.page)
                            />
                            <h1>"Digital goods"</h1>
                            <p class="lede">"Pay on this page, and download straight away."</p>
                            {catalog.products.is_empty().then(|| view! { <p>"Nothing for sale yet. Please come back soon."</p> })}
                            <ul class="catalog">
                                {catalog.products.iter().cloned().map(|p| view! { <ProductCard product=p/> }).collect_view()}
                            </ul>
                            <Pager page=catalog.page pages=catalog.pages/>
                        }
                    })
                })}
            </ErrorBoundary>
        </Suspense>
    }
}

/// One product in the catalog: picture, title (the link), what it gives and its price.
#[component]
fn ProductCard(product: app::models::Product) -> impl IntoView {
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

/// Links to the previous and next pages and to each page by number; nothing for one page.
#[component]
fn Pager(page: u32, pages: u32) -> impl IntoView {
    (pages > 1).then(|| {
        view! {
            <nav class="pager" aria-label="Catalog pages">
                {(page > 1).then(|| view! {
                    <a href=CatalogPage::href(page - 1) rel="prev">"← Previous"</a>
                })}
                <ol>
                    {(1..=pages).map(|n| {
                        let current = (n == page).then_some("page");
                        view! {
                            <li><a href=CatalogPage::href(n) aria-current=current
                                aria-label=format!("Page {n}")>{n.to_string()}</a></li>
                        }
                    }).collect_view()}
                </ol>
                {(page < pages).then(|| view! {
                    <a href=CatalogPage::href(page + 1) rel="next">"Next →"</a>
                })}
            </nav>
        }
    })
}
