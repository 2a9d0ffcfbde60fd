//! Stripe mirrors the catalog: each product is a Stripe Product (its name, description, and
//! metadata naming our id), with a Price for its current amount, so the Stripe dashboard names
//! what was sold. The database stays the source of truth for amounts (checkout reads them from
//! the product row, never from Stripe), and nothing here stands between a shopper and a sale:
//! a failed sync is recorded on the product, shown in the admin, and retried by the
//! housekeeping job.
//!
//! Every write is idempotent for good, not only for Stripe's 24 hours of idempotency keys: the
//! Product's id is ours (`sf_<install>_<id>`, the installation's prefix keeping databases that
//! share a Stripe account apart), so a second create finds it; a Price carries a lookup key
//! naming the product's version, so a Price made by a run whose answer was lost is found and
//! used rather than made again. A new amount is a new Price (a Price's amount never changes);
//! the old one is archived. One server syncs a product at a time (an advisory lock per
//! product), so two runs never write an older version over a newer one.

use std::collections::HashMap;

use sqlx::PgPool;
use stripe::{ApiErrorsType, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_product::price::{CreatePrice, ListPrice, UpdatePrice};
use stripe_product::product::{CreateProduct, UpdateProduct};

use crate::domain::Currency;

/// How many products one run of [`sync_pending`] takes.
pub const SYNC_BATCH: i64 = 50;

struct Row {
    prefix: String,
    id: i64,
    slug: String,
    title: String,
    description: String,
    price_minor: i64,
    currency: Currency,
    active: bool,
    version: i32,
    stripe_product_id: Option<String>,
    stripe_price_id: Option<String>,
    stripe_price_minor: Option<i64>,
    stripe_price_currency: Option<String>,
    stripe_sync_attempts: i32,
}

/// The Stripe Product id of product `id` in the installation `prefix`.
pub fn product_id(prefix: &str, id: i64) -> String {
    format!("sf_{prefix}_{id}")
}

/// Where the per-product advisory locks of syncs start ("SFSY" and the product's id).
const LOCK_BASE: i64 = 0x5346_5359 << 32;

/// The idempotency key of one write of one attempt at syncing the row's version.
fn attempt_key(row: &Row, write: &str) -> String {
    format!(
        "sf-{}-product-{}-v{}-{write}-{}",
        row.prefix, row.id, row.version, row.stripe_sync_attempts
    )
}

fn key(k: String) -> Result<RequestStrategy, String> {
    IdempotencyKey::new(k)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| format!("bad idempotency key: {e:?}"))
}

/// What Stripe said, in words for the admin and the log (never the key).
fn describe(e: &StripeError) -> String {
    match e {
        StripeError::Stripe(api, status) => format!(
            "Stripe answered {status}: {}",
            api.message.as_deref().unwrap_or("no message")
        ),
        other => format!("Stripe could not be reached: {other}"),
    }
}

fn already_exists(e: &StripeError) -> bool {
    matches!(e, StripeError::Stripe(api, _)
        if api.type_ == ApiErrorsType::InvalidRequestError
            && api.code.as_ref().is_some_and(|c| c.as_str() == "resource_already_exists"))
}

/// Brings every product whose Stripe copy is behind up to date, oldest change first. Returns
/// how many are in step now; a product that fails keeps its error for the admin and is tried
/// again on the next run.
pub async fn sync_pending(pool: &PgPool, stripe: &stripe::Client) -> Result<usize, sqlx::Error> {
    let behind = sqlx::query_scalar!(
        "select id from product where stripe_synced_version < version
         order by updated_at limit $1",
        SYNC_BATCH
    )
    .fetch_all(pool)
    .await?;
    let mut synced = 0;
    for id in behind {
        if sync(pool, stripe, id).await? {
            synced += 1;
        }
    }
    Ok(synced)
}

/// Brings product `id`'s Stripe Product and Price in step with its row. `Ok(false)` when
/// Stripe failed (recorded on the product); errors are the database's.
#[tracing::instrument(skip(pool, stripe))]
pub async fn sync(pool: &PgPool, stripe: &stripe::Client, id: i64) -> Result<bool, sqlx::Error> {
    let Some(lock) = crate::advisory::try_lock(pool, LOCK_BASE | id).await? else {
        // Another server is syncing it now, from the row as it is.
        return Ok(false);
    };
    let synced = sync_locked(pool, stripe, id).await;
    lock.release().await;
    synced
}

async fn sync_locked(pool: &PgPool, stripe: &stripe::Client, id: i64) -> Result<bool, sqlx::Error> {
    let Some(row) = sqlx::query_as!(
        Row,
        r#"select (select stripe_prefix from shop_install) as "prefix!", id, slug, title, description, price_minor, currency as "currency: Currency",
                  published and archived_at is null as "active!", version,
                  stripe_product_id, stripe_price_id, stripe_price_minor, stripe_price_currency,
                  stripe_sync_attempts
           from product where id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(true);
    };
    match push(stripe, &row).await {
        Ok(done) => {
            // Only the version read is marked: an edit made meanwhile is synced next time.
            sqlx::query!(
                "update product
                 set stripe_product_id = $2, stripe_price_id = $3, stripe_price_minor = $4,
                     stripe_price_currency = $5,
                     stripe_synced_version = greatest(stripe_synced_version, $6),
                     stripe_sync_error = null, stripe_sync_attempts = 0,
                     stripe_synced_at = now()
                 where id = $1",
                row.id,
                done.product,
                done.price,
                done.price_minor,
                done.price_currency,
                row.version
            )
            .execute(pool)
            .await?;
            tracing::info!(product = %row.slug, version = row.version, "product mirrored to Stripe");
            Ok(true)
        }
        Err(why) => {
            tracing::warn!(product = %row.slug, error = %why, "product not mirrored to Stripe; retried later");
            sqlx::query!(
                "update product
                 set stripe_sync_error = $2, stripe_sync_attempts = stripe_sync_attempts + 1
                 where id = $1",
                row.id,
                why
            )
            .execute(pool)
            .await?;
            Ok(false)
        }
    }
}

struct Pushed {
    product: String,
    price: Option<String>,
    price_minor: Option<i64>,
    price_currency: Option<String>,
}

async fn push(stripe: &stripe::Client, row: &Row) -> Result<Pushed, String> {
    let product = product_id(&row.prefix, row.id);
    let metadata = HashMap::from([
        ("storefront_id".to_string(), row.id.to_string()),
        ("slug".to_string(), row.slug.clone()),
    ]);
    // Stripe keeps a description as plain text of at most a few thousand characters.
    let description: String = row.description.chars().take(4000).collect();
    if row.stripe_product_id.is_none() {
        let mut create = CreateProduct::new(row.title.clone())
            .id(product.clone())
            .active(row.active)
            .metadata(metadata.clone());
        if !description.trim().is_empty() {
            create = create.description(description.clone());
        }
        match create
            .customize()
            .request_strategy(key(attempt_key(row, "create"))?)
            .send(stripe)
            .await
        {
            Ok(_) => {}
            // Made by an earlier run whose answer was lost: it is updated below.
            Err(e) if already_exists(&e) => {}
            Err(e) => return Err(describe(&e)),
        }
    }
    let mut pushed = Pushed {
        product: product.clone(),
        price: row.stripe_price_id.clone(),
        price_minor: row.stripe_price_minor,
        price_currency: row.stripe_price_currency.clone(),
    };
    let price_moved = row.price_minor > 0
        && (row.stripe_price_minor != Some(row.price_minor)
            || row.stripe_price_currency.as_deref() != Some(row.currency.code()));
    let mut old_price = None;
    if price_moved {
        let price = new_price(stripe, row, &product).await?;
        old_price = row.stripe_price_id.clone().filter(|old| *old != price);
        pushed.price = Some(price);
        pushed.price_minor = Some(row.price_minor);
        pushed.price_currency = Some(row.currency.code().to_string());
    }
    let mut update = UpdateProduct::new(product.as_str())
        .name(row.title.clone())
        .active(row.active)
        .description(description)
        .metadata(metadata);
    if let Some(price) = &pushed.price {
        update = update.default_price(price.clone());
    }
    update
        .customize()
        .request_strategy(key(attempt_key(row, "update"))?)
        .send(stripe)
        .await
        .map_err(|e| describe(&e))?;
    // Only once it is no longer the default: Stripe refuses to archive a default price.
    if let Some(old) = old_price {
        UpdatePrice::new(old.as_str())
            .active(false)
            .customize()
            .request_strategy(key(attempt_key(row, &format!("archive-{old}")))?)
            .send(stripe)
            .await
            .map_err(|e| describe(&e))?;
    }
    Ok(pushed)
}

/// The Price for the row's amount at its version: found by its lookup key when an earlier run
/// made it, made otherwise.
async fn new_price(stripe: &stripe::Client, row: &Row, product: &str) -> Result<String, String> {
    let lookup = format!("{product}_v{}", row.version);
    let found = ListPrice::new()
        .lookup_keys(vec![lookup.clone()])
        .limit(1)
        .send(stripe)
        .await
        .map_err(|e| describe(&e))?;
    if let Some(price) = found.data.into_iter().next() {
        return Ok(price.id.as_str().to_string());
    }
    let currency: stripe_types::Currency = row
        .currency
        .code()
        .parse()
        .map_err(|_| format!("Stripe does not know the currency {}", row.currency.code()))?;
    let price = CreatePrice::new(currency)
        .product(product.to_string())
        .unit_amount(row.price_minor)
        .lookup_key(lookup)
        .customize()
        .request_strategy(key(attempt_key(row, "price"))?)
        .send(stripe)
        .await
        .map_err(|e| describe(&e))?;
    Ok(price.id.as_str().to_string())
}
