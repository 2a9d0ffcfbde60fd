//! Opening checkout for a product: the order (reused while this browser keeps paying for the
//! same product at the same price, otherwise new at the database's price) and its
//! PaymentIntent. Amounts come from the database, never from the browser.

use sqlx::PgPool;

use crate::catalog::{self, ProductRow};
use crate::domain::{Currency, Email, Money, OrderId, OrderStatus, ProductKind, ProductSlug};
use crate::error::{OrInternal, ShopError};
use crate::fulfillment;
use crate::payment_intents::{self, NewIntent};

/// An order as checkout sees it.
pub struct OpenOrder {
    pub id: i64,
    pub public_id: String,
    pub product_id: i64,
    pub amount_minor: i64,
    pub currency: Currency,
    pub status: OrderStatus,
    pub payment_intent_id: Option<String>,
    pub client_secret: Option<String>,
    pub intent_attempt: i32,
    /// Seconds since the order was made.
    pub age_secs: f64,
    /// The account it belongs to, once known.
    pub user_id: Option<i64>,
    /// The credits a pack order adds.
    pub pack_credits: Option<i64>,
}

/// The order checkout opened: its id and the client secret of its PaymentIntent.
pub struct Opened {
    pub order: OrderId,
    pub client_secret: String,
    pub amount: Money,
}

/// Opens checkout for `slug`, reusing `current` (the order this browser's session holds for this
/// product) when it is still payable at today's price and younger than `reuse_for` (so an
/// order near its expiry is replaced rather than canceled under a shopper who is paying). `remember` keeps the order in the
/// session before its PaymentIntent is asked for, so a browser that retries after a failure
/// keeps its order (and with it the intent's idempotency key).
#[tracing::instrument(skip_all, fields(product = %slug, order))]
pub async fn open(
    pool: &PgPool,
    stripe: &stripe::Client,
    slug: &ProductSlug,
    current: Option<OrderId>,
    reuse_for: std::time::Duration,
    user: Option<i64>,
    remember: impl AsyncFnOnce(&OrderId) -> Result<(), ShopError>,
) -> Result<Opened, ShopError> {
    let product = catalog::published_by_slug(pool, slug.as_str())
        .await?
        .ok_or(ShopError::NotFound)?;
    if product.price_minor == 0 {
        return Err(ShopError::Invalid(crate::domain::FREE_NOT_SOLD.into()));
    }
    let price = product.price()?;
    let current = match current {
        Some(id) => load(pool, &id).await?,
        None => None,
    };
    let (order, replaced) = match current {
        Some(order) if reusable(&order, &product, reuse_for) => (order, None),
        other => (create(pool, &product, price, user).await?, other),
    };
    if let (Some(user), None) = (user, order.user_id) {
        // Opened as a guest, paid signed in: the order is the account's.
        sqlx::query!(
            "update customer_order set user_id = $2 where id = $1 and user_id is null",
            order.id,
            user
        )
        .execute(pool)
        .await
        .or_internal("Failed to give an order its account")?;
    }
    let order_id = OrderId::parse(&order.public_id)?;
    tracing::Span::current().record("order", order_id.as_str());
    remember(&order_id).await?;
    if let Some(old) = replaced {
        retire(pool, stripe, old).await;
    }
    let client_secret = match (&order.payment_intent_id, order.client_secret) {
        (Some(_), Some(secret)) => secret,
        _ => {
            let created = payment_intents::create(
                stripe,
                NewIntent {
                    order: &order_id,
                    attempt: order.intent_attempt,
                    amount: price,
                    product_slug: &product.slug,
                    product_title: &product.title,
                },
            )
            .await;
            let intent = match created {
                Ok(intent) => intent,
                Err(failed) => {
                    if failed.key_spent {
                        next_attempt(pool, order.id, order.intent_attempt).await?;
                    }
                    return Err(failed.error);
                }
            };
            let secret = intent.client_secret.clone().ok_or_else(|| {
                ShopError::internal("PaymentIntent without client secret", intent.id.as_str())
            })?;
            let recorded = record_intent(pool, order.id, intent.id.as_str(), &secret).await?;
            if recorded.intent != intent.id.as_str() {
                // Another request recorded an intent for this order first (under an earlier
                // attempt's key): every browser pays that one, and this one is canceled so an
                // order never has two payable intents.
                tracing::warn!(order = %order_id, kept = %recorded.intent, extra = %intent.id,
                    "two intents made for one order; canceling the extra one");
                if let Err(e) = payment_intents::cancel_extra(stripe, intent.id.as_str()).await {
                    tracing::error!(error = ?e, intent = %intent.id, "could not cancel an extra PaymentIntent");
                }
            }
            recorded.secret
        }
    };
    Ok(Opened {
        order: order_id,
        client_secret,
        amount: price,
    })
}

/// Records the receipt email on an open order and its PaymentIntent, just before the payment
/// is confirmed. Refused once the payment is under way or settled.
#[tracing::instrument(skip_all, fields(order = %order_id))]
pub async fn set_email(
    pool: &PgPool,
    stripe: &stripe::Client,
    order_id: &OrderId,
    email: &Email,
) -> Result<(), ShopError> {
    let order = load(pool, order_id).await?.ok_or(ShopError::NotFound)?;
    if !order.status.is_open() || order.status == OrderStatus::Processing {
        return Err(ShopError::NotPayable);
    }
    sqlx::query!(
        "update customer_order set email = $2, updated_at = now() where id = $1",
        order.id,
        email.as_str()
    )
    .execute(pool)
    .await
    .or_internal("Failed to save an order's email")?;
    if let Some(intent) = &order.payment_intent_id {
        payment_intents::set_receipt_email(stripe, order_id, intent, email).await?;
    }
    Ok(())
}

/// Whether `secret` is the client secret of `order`'s PaymentIntent, compared in constant time.
pub async fn secret_matches(
    pool: &PgPool,
    order: &OrderId,
    secret: &str,
) -> Result<bool, ShopError> {
    let stored = sqlx::query_scalar!(
        "select client_secret from customer_order where public_id = $1",
        order.as_str()
    )
    .fetch_optional(pool)
    .await
    .or_internal("Failed to read an order's client secret")?
    .flatten();
    Ok(stored.is_some_and(|stored| {
        use sha2::{Digest, Sha256};
        // Equal-length digests compared byte by byte without an early exit.
        let (a, b) = (
            Sha256::digest(stored.as_bytes()),
            Sha256::digest(secret.as_bytes()),
        );
        a.iter()
            .zip(b.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
    }))
}

async fn load(pool: &PgPool, order: &OrderId) -> Result<Option<OpenOrder>, ShopError> {
    sqlx::query_as!(
        OpenOrder,
        r#"select id, public_id, product_id, amount_minor, currency as "currency: Currency",
                  status as "status: OrderStatus", payment_intent_id, client_secret,
                  intent_attempt,
                  extract(epoch from now() - created_at)::float8 as "age_secs!", user_id,
                  pack_credits
           from customer_order where public_id = $1"#,
        order.as_str()
    )
    .fetch_optional(pool)
    .await
    .or_internal("Failed to read an order")
}

/// An order this browser can keep paying: same product at today's price, not settled, not
/// near its expiry.
fn reusable(order: &OpenOrder, product: &ProductRow, reuse_for: std::time::Duration) -> bool {
    order.age_secs < reuse_for.as_secs_f64()
        && order.product_id == product.id
        && order.amount_minor == product.price_minor
        && order.currency == product.currency
        && order.pack_credits == product.credits
        && matches!(order.status, OrderStatus::Pending | OrderStatus::Failed)
}

async fn create(
    pool: &PgPool,
    product: &ProductRow,
    price: Money,
    user: Option<i64>,
) -> Result<OpenOrder, ShopError> {
    let public_id = OrderId::generate();
    // Made only from the product as it still is, and holding it while the order is written:
    // an admin's change of its kind, currency or price waits for this order, or this order is
    // not made from the product as it was before that change.
    sqlx::query_as!(
        OpenOrder,
        r#"insert into customer_order (public_id, product_id, amount_minor, currency, user_id,
                                       pack_credits)
           select $1, p.id, $3, $4, $5, $6
           from product p
           where p.id = $2 and p.price_minor = $3 and p.currency::text = $4 and p.kind = $7
             and p.credits is not distinct from $6
           for share
           returning id, public_id, product_id, amount_minor, currency as "currency: Currency",
                     status as "status: OrderStatus", payment_intent_id, client_secret,
                     intent_attempt, 0::float8 as "age_secs!", user_id, pack_credits"#,
        public_id.as_str(),
        product.id,
        price.minor(),
        price.currency().code(),
        user,
        product.credits,
        product.kind as ProductKind
    )
    .fetch_optional(pool)
    .await
    .or_internal("Failed to create an order")?
    .ok_or_else(|| ShopError::Invalid(crate::domain::RELOAD_AND_RETRY.into()))
}

/// Cancels the PaymentIntent of an open order that a new one replaced (the price changed), so
/// its client secret, which the browser may still hold, can no longer pay the old price. A
/// payment already under way is left to settle. Failures are logged: the order stays open and
/// its payment, if one ever succeeds, is still honoured.
async fn retire(pool: &PgPool, stripe: &stripe::Client, old: OpenOrder) {
    let (Some(intent), true) = (
        old.payment_intent_id,
        matches!(old.status, OrderStatus::Pending | OrderStatus::Failed),
    ) else {
        return;
    };
    let Ok(order) = OrderId::parse(&old.public_id) else {
        return;
    };
    let canceled = match payment_intents::cancel(stripe, &order, &intent).await {
        Ok(canceled) => canceled,
        Err(e) => {
            tracing::warn!(error = ?e, order = %order, "could not cancel a replaced order's PaymentIntent");
            return;
        }
    };
    if let Err(e) = fulfillment::settle_intent_now(pool, &canceled).await {
        tracing::warn!(error = %e, order = %order, "could not record a replaced order as canceled");
    }
}

/// Moves the order's next intent creation to a fresh idempotency key, once per spent key even
/// when two requests saw the same failure.
async fn next_attempt(pool: &PgPool, order: i64, spent: i32) -> Result<(), ShopError> {
    sqlx::query!(
        "update customer_order set intent_attempt = intent_attempt + 1, updated_at = now()
         where id = $1 and intent_attempt = $2",
        order,
        spent
    )
    .execute(pool)
    .await
    .or_internal("Failed to move an order to its next intent attempt")?;
    Ok(())
}

/// The intent an order pays with, once recorded.
struct Recorded {
    intent: String,
    secret: String,
}

/// Records `intent` as the order's, unless the order already has one: the first recorded wins,
/// and what is returned is always the order's own.
async fn record_intent(
    pool: &PgPool,
    order: i64,
    intent: &str,
    secret: &str,
) -> Result<Recorded, ShopError> {
    let recorded = sqlx::query!(
        r#"update customer_order
           set payment_intent_id = coalesce(payment_intent_id, $2),
               client_secret = case when payment_intent_id is null then $3 else client_secret end,
               updated_at = now()
           where id = $1
           returning payment_intent_id as "intent!", client_secret as "secret!""#,
        order,
        intent,
        secret
    )
    .fetch_one(pool)
    .await
    .or_internal("Failed to record a PaymentIntent")?;
    Ok(Recorded {
        intent: recorded.intent,
        secret: recorded.secret,
    })
}
