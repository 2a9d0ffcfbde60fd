//! Getting a product without a payment: a free product added to a library, or a product
//! unlocked with credits. Each makes an order like a payment does (so the library, the
//! download route and the history treat all three alike), settled at once and granted in the
//! same transaction. A shopper never gets the same product twice this way: what they own
//! already is simply theirs, so a double click, a second tab or a replayed form changes nothing.

use sqlx::PgPool;

use crate::catalog::{self, ProductRow};
use crate::credits;
use crate::domain::{
    CREDIT_PRICE_CHANGED, NOT_ENOUGH_CREDITS, NOT_FOR_CREDITS, NOT_FREE, OrderId, ProductKind,
    ProductSlug, RELOAD_AND_RETRY,
};
use crate::error::{OrInternal, ShopError};

/// The random key a spend form carries, so that posting it twice spends once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendKey(String);

impl SpendKey {
    pub fn generate() -> Self {
        use rand::Rng;
        let mut rng = rand::rng();
        Self(
            (0..26)
                .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz234567"[rng.random_range(0..32)]))
                .collect(),
        )
    }

    pub fn parse(raw: &str) -> Result<Self, ShopError> {
        let ok = (16..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        ok.then(|| Self(raw.to_string()))
            .ok_or_else(|| ShopError::Invalid(RELOAD_AND_RETRY.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Adds the free product `slug` to `user`'s library. Returns the order that owns it.
#[tracing::instrument(skip_all, fields(user, product = slug.as_str()))]
pub async fn add_free(pool: &PgPool, user: i64, slug: &ProductSlug) -> Result<OrderId, ShopError> {
    let product = product(pool, slug).await?;
    if product.price_minor != 0 {
        return Err(ShopError::Invalid(NOT_FREE.into()));
    }
    let mut tx = pool
        .begin()
        .await
        .or_internal("Failed to begin adding a product")?;
    credits::lock_user(&mut tx, user)
        .await
        .or_internal("Failed to lock an account")?;
    if let Some(owned) = owned(&mut tx, user, product.id).await? {
        return Ok(owned);
    }
    let order = grant_order(&mut tx, user, &product, None).await?;
    tx.commit().await.or_internal("Failed to add a product")?;
    tracing::info!(order = %order, "free product added to a library");
    Ok(order)
}

/// Unlocks `slug` for `user` with the `credits` its page showed. `key` comes from the form: a
/// second post of the same form finds the first one's order. Returns the order that owns the
/// product.
#[tracing::instrument(skip_all, fields(user, product = slug.as_str()))]
pub async fn unlock(
    pool: &PgPool,
    user: i64,
    slug: &ProductSlug,
    credits: i64,
    key: &SpendKey,
) -> Result<OrderId, ShopError> {
    let product = product(pool, slug).await?;
    let Some(price) = product.price_credits else {
        return Err(ShopError::Invalid(NOT_FOR_CREDITS.into()));
    };
    if price != credits {
        return Err(ShopError::Invalid(CREDIT_PRICE_CHANGED.into()));
    }
    let spend_key = format!("spend:{user}:{}", key.as_str());
    let mut tx = pool
        .begin()
        .await
        .or_internal("Failed to begin an unlock")?;
    // Every spend of this shopper waits here for the one before it: the balance read below
    // is the balance when this spend is written.
    credits::lock_user(&mut tx, user)
        .await
        .or_internal("Failed to lock an account")?;
    let replayed = sqlx::query_scalar!(
        "select o.public_id from credit_entry c join customer_order o on o.id = c.order_id
         where c.key = $1",
        spend_key
    )
    .fetch_optional(&mut *tx)
    .await
    .or_internal("Failed to look up a spend")?;
    if let Some(order) = replayed {
        return Ok(OrderId::parse(&order)?);
    }
    if let Some(owned) = owned(&mut tx, user, product.id).await? {
        return Ok(owned);
    }
    let balance = credits::balance(&mut tx, user)
        .await
        .or_internal("Failed to read a balance")?;
    if balance < price {
        return Err(ShopError::Invalid(NOT_ENOUGH_CREDITS.into()));
    }
    let order = grant_order(&mut tx, user, &product, Some(price)).await?;
    let order_row = sqlx::query_scalar!(
        "insert into credit_entry (user_id, delta, reason, order_id, key)
         select $1, $2, 'spend', id, $4 from customer_order where public_id = $3
         returning order_id",
        user,
        -price,
        order.as_str(),
        spend_key
    )
    .fetch_one(&mut *tx)
    .await
    .or_internal("Failed to record a spend")?;
    crate::fulfillment::queue_receipt(&mut tx, order_row)
        .await
        .or_internal("Failed to queue a receipt")?;
    tx.commit()
        .await
        .or_internal("Failed to unlock a product")?;
    tracing::info!(order = %order, credits = price, "product unlocked with credits");
    Ok(order)
}

async fn product(pool: &PgPool, slug: &ProductSlug) -> Result<ProductRow, ShopError> {
    let product = catalog::published_by_slug(pool, slug.as_str())
        .await?
        .ok_or(ShopError::NotFound)?;
    if product.kind == ProductKind::Credits {
        // Credits are bought with money only.
        return Err(ShopError::Invalid(NOT_FOR_CREDITS.into()));
    }
    Ok(product)
}

/// The order through which `user` owns `product` now, if any.
async fn owned(
    conn: &mut sqlx::PgConnection,
    user: i64,
    product: i64,
) -> Result<Option<OrderId>, ShopError> {
    let order = sqlx::query_scalar!(
        "select o.public_id from entitlement e join customer_order o on o.id = e.order_id
         where o.user_id = $1 and e.product_id = $2 and e.revoked_at is null
         order by e.granted_at desc limit 1",
        user,
        product
    )
    .fetch_optional(&mut *conn)
    .await
    .or_internal("Failed to check what a shopper owns")?;
    order
        .map(|id| OrderId::parse(&id).map_err(ShopError::from))
        .transpose()
}

/// Makes a settled order of `product` for `user` that cost no money (`credits` or nothing),
/// and its grant.
async fn grant_order(
    conn: &mut sqlx::PgConnection,
    user: i64,
    product: &ProductRow,
    credits: Option<i64>,
) -> Result<OrderId, ShopError> {
    let order = OrderId::generate();
    // Made only from the product as it still is, held until the order commits (see
    // `checkout::create`).
    let made = sqlx::query!(
        "with made as (
             insert into customer_order (public_id, product_id, email, amount_minor, currency,
                                         status, paid_at, user_id, credits_spent)
             select $1, p.id, u.email, 0, p.currency, 'paid', now(), u.id, $5
             from app_user u, product p
             where u.id = $4 and p.id = $2 and p.currency::text = $3 and p.kind = $6
             for share of p
             returning id, product_id, email
         )
         insert into entitlement (order_id, product_id, email)
         select id, product_id, email from made",
        order.as_str(),
        product.id,
        product.currency.code(),
        user,
        credits,
        product.kind as ProductKind
    )
    .execute(&mut *conn)
    .await
    .or_internal("Failed to record an order")?;
    if made.rows_affected() == 0 {
        return Err(ShopError::Invalid(RELOAD_AND_RETRY.into()));
    }
    Ok(order)
}
