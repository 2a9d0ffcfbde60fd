//! The catalog: the published products, the home page that lists them and the product page
//! that sells one.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use crate::PageTitle;
use crate::checkout::CheckoutForm;
use crate::error::ShopError;
use crate::money::Money;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub slug: String,
    pub title: String,
    pub description: String,
    pub kind: String,
    pub price: Money,
}

impl Product {
    pub fn kind_label(&self) -> &'static str {
        match self.kind.as_str() {
            "download" => "Download",
            "credits" => "Credit pack",
            "membership" => "Membership",
            _ => "Digital good",
        }
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::Product;
    use crate::error::{OrInternal, ShopError};
    use crate::money::{Currency, Money};

    #[derive(sqlx::FromRow)]
    pub struct ProductRow {
        pub id: i64,
        pub slug: String,
        pub title: String,
        pub description: String,
        pub kind: String,
        pub price_minor: i64,
        pub currency: String,
    }

    impl ProductRow {
        pub fn price(&self) -> Result<Money, ShopError> {
            let currency: Currency = self.currency.parse().or_internal("bad product currency")?;
            Money::new(self.price_minor, currency).or_internal("bad product price")
        }

        pub fn into_product(self) -> Result<Product, ShopError> {
            let price = self.price()?;
            Ok(Product {
                slug: self.slug,
                title: self.title,
                description: self.description,
                kind: self.kind,
                price,
            })
        }
    }

    /// Every published product, in catalog order, read from the database.
    pub async fn published(pool: &sqlx::PgPool) -> Result<Vec<Product>, ShopError> {
        sqlx::query_as::<_, ProductRow>(
            "select id, slug, title, description, kind, price_minor, currency
             from product where published order by created_at, id",
        )
        .fetch_all(pool)
        .await
        .or_internal("Failed to list products")?
        .into_iter()
        .map(ProductRow::into_product)
        .collect()
    }

    pub async fn published_by_slug(
        pool: &sqlx::PgPool,
        slug: &str,
    ) -> Result<Option<ProductRow>, ShopError> {
        sqlx::query_as::<_, ProductRow>(
            "select id, slug, title, description, kind, price_minor, currency
             from product where slug = $1 and published",
        )
        .bind(slug)
        .fetch_optional(pool)
        .await
        .or_internal("Failed to read a product")
    }
}

#[server(endpoint = "list_products")]
pub async fn list_products() -> Result<Vec<Product>, ShopError> {
    let state = crate::state::app_state()?;
    Ok(state.catalog.published(&state.pool).await?.to_vec())
}

#[server(endpoint = "get_product")]
pub async fn get_product(slug: String) -> Result<Product, ShopError> {
    let slug = crate::domain::ProductSlug::parse(&slug).map_err(|_| ShopError::not_found())?;
    let state = crate::state::app_state()?;
    state
        .catalog
        .published(&state.pool)
        .await?
        .iter()
        .find(|p| p.slug == slug.as_str())
        .cloned()
        .ok_or_else(ShopError::not_found)
}

#[component]
pub fn CatalogPage() -> impl IntoView {
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
                                    <a href=format!("/products/{}", p.slug)>
                                        <h2>{p.title.clone()}</h2>
                                    </a>
                                    <p class="kind">{p.kind_label()}</p>
                                    <p class="price">{p.price.to_string()}</p>
                                </li>
                            }).collect_view()}
                        </ul>
                    })
                })}
            </ErrorBoundary>
        </Suspense>
    }
}

#[component]
pub fn ProductPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let product = Resource::new(slug, get_product);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                {move || Suspend::new(async move {
                    product.await.map(|p| view! {
                        <PageTitle text=p.title.clone()/>
                        <article class="product">
                            <p class="kind">{p.kind_label()}</p>
                            <h1>{p.title.clone()}</h1>
                            <p class="price">{p.price.to_string()}</p>
                            <p class="description">{p.description.clone()}</p>
                            <CheckoutForm slug=p.slug.clone() price=p.price/>
                        </article>
                    })
                })}
            </ErrorBoundary>
        </Suspense>
    }
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
