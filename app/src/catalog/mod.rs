//! The catalog's data: published products read from the database, and the in-memory copy of
//! them that pages read (`cache`). Checkout reads a product's price here, never from the copy.

pub mod cache;

use sqlx::PgPool;

use crate::domain::{Currency, Money, ProductKind};
use crate::error::{OrInternal, ShopError};
use crate::models::Product;

/// A product row as checkout needs it: its id and price as stored.
pub struct ProductRow {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub kind: ProductKind,
    pub price_minor: i64,
    pub currency: Currency,
    /// The credits a pack adds.
    pub credits: Option<i64>,
    /// What it costs in credits, if it may be unlocked with them.
    pub price_credits: Option<i64>,
}

impl ProductRow {
    pub fn price(&self) -> Result<Money, ShopError> {
        Money::new(self.price_minor, self.currency).or_internal("bad product price")
    }

    pub fn into_product(self) -> Result<Product, ShopError> {
        let price = match self.price_minor {
            0 => None,
            _ => Some(self.price()?),
        };
        Ok(Product {
            slug: self.slug,
            title: self.title,
            description: self.description,
            kind: self.kind,
            price,
            credits: self.credits,
            price_credits: self.price_credits,
        })
    }
}

/// Every published product, in catalog order, read from the database.
pub async fn published(pool: &PgPool) -> Result<Vec<Product>, ShopError> {
    sqlx::query_as!(
        ProductRow,
        r#"select id, slug, title, description, kind as "kind: ProductKind", price_minor,
                  currency as "currency: Currency",
                  credits, price_credits
           from product where published order by created_at, id"#
    )
    .fetch_all(pool)
    .await
    .or_internal("Failed to list products")?
    .into_iter()
    .map(ProductRow::into_product)
    .collect()
}

/// One published product by its slug, with its price as stored now.
#[tracing::instrument(skip_all, fields(product = slug))]
pub async fn published_by_slug(pool: &PgPool, slug: &str) -> Result<Option<ProductRow>, ShopError> {
    sqlx::query_as!(
        ProductRow,
        r#"select id, slug, title, description, kind as "kind: ProductKind", price_minor,
                  currency as "currency: Currency",
                  credits, price_credits
           from product where slug = $1 and published"#,
        slug
    )
    .fetch_optional(pool)
    .await
    .or_internal("Failed to read a product")
}
