//! An order as its page shows it. While a payment is open the page asks Stripe itself and
//! settles the order the way the webhook would, so "paid" is only ever shown for a payment
//! Stripe says succeeded.

use sqlx::PgPool;

use crate::domain::{Currency, DisputeStatus, Money, OrderId, OrderStatus, ProductKind};
use crate::error::{OrInternal, ShopError};
use crate::fulfillment;
use crate::models::{Cost, LibraryItem, OrderLine, OrderView};
use crate::outbox::NewMail;
use crate::payment_intents;

struct Row {
    public_id: String,
    title: String,
    slug: String,
    amount_minor: i64,
    currency: Currency,
    status: OrderStatus,
    failure_message: Option<String>,
    amount_refunded_minor: i64,
    payment_intent_id: Option<String>,
    dispute_status: Option<DisputeStatus>,
    credits_spent: Option<i64>,
    downloadable: bool,
}

/// The order with public id `id`, settled from Stripe first if its payment is still open and
/// `may_ask_stripe` allows it (a rate limit: otherwise the page shows what the database has,
/// which webhooks keep current).
#[tracing::instrument(skip_all, fields(order = %id))]
pub async fn view(
    pool: &PgPool,
    stripe: &stripe::Client,
    new_mail: &NewMail,
    id: &OrderId,
    may_ask_stripe: impl FnOnce() -> bool,
) -> Result<OrderView, ShopError> {
    let mut row = read(pool, id).await?.ok_or(ShopError::NotFound)?;
    if row.status.is_open()
        && let Some(intent) = row.payment_intent_id.clone()
        && may_ask_stripe()
    {
        refresh(pool, stripe, new_mail, &intent).await;
        row = read(pool, id).await?.ok_or(ShopError::NotFound)?;
    }
    let amount = cost(row.amount_minor, row.currency, row.credits_spent)?;
    Ok(OrderView {
        id: OrderId::parse(&row.public_id)?,
        product_title: row.title,
        product_slug: row.slug,
        amount,
        status: row.status,
        failure_message: row.failure_message,
        refunded: Money::new(row.amount_refunded_minor, row.currency).ok(),
        dispute: row.dispute_status,
        downloadable: row.downloadable,
    })
}

async fn read(pool: &PgPool, id: &OrderId) -> Result<Option<Row>, ShopError> {
    sqlx::query_as!(
        Row,
        r#"select o.public_id, p.title, p.slug, o.amount_minor, o.currency as "currency: Currency",
                  o.status as "status: OrderStatus", o.failure_message, o.amount_refunded_minor,
                  o.payment_intent_id, order_dispute_status(o.id) as "dispute_status: DisputeStatus",
                  o.credits_spent,
                  exists (select from entitlement e join product_file f on f.product_id = e.product_id
                          where e.order_id = o.id and e.revoked_at is null
                            and e.suspended_at is null) as "downloadable!"
           from customer_order o join product p on p.id = o.product_id
           where o.public_id = $1"#,
        id.as_str()
    )
    .fetch_optional(pool)
    .await
    .or_internal("Failed to read an order")
}

/// Asks Stripe for the order's PaymentIntent and settles the order from it. A Stripe or
/// database failure here is logged and the page shows what the database already has.
async fn refresh(pool: &PgPool, stripe: &stripe::Client, new_mail: &NewMail, intent_id: &str) {
    let Ok(intent) = payment_intents::retrieve(stripe, intent_id).await else {
        return;
    };
    match fulfillment::settle_intent_now(pool, &intent).await {
        // A receipt may have been written with the payment.
        Ok(fulfillment::Settled::Changed { .. }) => new_mail.written(),
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, intent = intent_id, "could not settle an order from the order page")
        }
    }
}

/// What an order cost, from its row: credits if it was unlocked with them, nothing if it was
/// a free product, its amount otherwise.
pub(crate) fn cost(
    amount_minor: i64,
    currency: Currency,
    credits_spent: Option<i64>,
) -> Result<Cost, ShopError> {
    Ok(match (credits_spent, amount_minor) {
        (Some(credits), _) => Cost::Credits(credits),
        (None, 0) => Cost::Free,
        (None, minor) => Cost::Money(Money::new(minor, currency).or_internal("bad order amount")?),
    })
}

struct Line {
    public_id: String,
    title: String,
    amount_minor: i64,
    currency: Currency,
    status: OrderStatus,
    amount_refunded_minor: i64,
    date: String,
    credits_spent: Option<i64>,
}

/// The orders of `user` that got as far as a payment, newest first, in one query.
pub async fn of_user(pool: &PgPool, user: i64) -> Result<Vec<OrderLine>, ShopError> {
    let lines = sqlx::query_as!(
        Line,
        r#"select o.public_id, p.title, o.amount_minor, o.currency as "currency: Currency",
                  o.status as "status: OrderStatus", o.amount_refunded_minor,
                  to_char(o.created_at at time zone 'UTC', 'YYYY-MM-DD') as "date!",
                  o.credits_spent
           from customer_order o join product p on p.id = o.product_id
           where o.user_id = $1 and o.status not in ('pending', 'canceled')
           order by o.created_at desc, o.id desc
           limit 500"#,
        user
    )
    .fetch_all(pool)
    .await
    .or_internal("Failed to read a shopper's orders")?;
    lines
        .into_iter()
        .map(|l| {
            Ok(OrderLine {
                id: OrderId::parse(&l.public_id)?,
                product_title: l.title,
                amount: cost(l.amount_minor, l.currency, l.credits_spent)?,
                status: l.status,
                refunded: (l.amount_refunded_minor > 0)
                    .then(|| Money::new(l.amount_refunded_minor, l.currency).ok())
                    .flatten(),
                date: l.date,
            })
        })
        .collect()
}

struct Owned {
    title: String,
    slug: String,
    kind: ProductKind,
    public_id: String,
    since: String,
    suspended: bool,
    downloadable: bool,
}

/// What `user` owns, newest first: every grant of their orders that was not revoked (refunded
/// in full, or a dispute lost). A grant suspended by an open dispute is listed as such. One
/// query.
pub async fn library_of(pool: &PgPool, user: i64) -> Result<Vec<LibraryItem>, ShopError> {
    let owned = sqlx::query_as!(
        Owned,
        r#"select p.title, p.slug, p.kind as "kind: ProductKind", o.public_id,
                  to_char(e.granted_at at time zone 'UTC', 'YYYY-MM-DD') as "since!",
                  e.suspended_at is not null as "suspended!",
                  (e.suspended_at is null
                   and exists (select from product_file f where f.product_id = p.id)) as "downloadable!"
           from entitlement e
           join customer_order o on o.id = e.order_id
           join product p on p.id = e.product_id
           where o.user_id = $1 and e.revoked_at is null
           order by e.granted_at desc, e.id desc"#,
        user
    )
    .fetch_all(pool)
    .await
    .or_internal("Failed to read a shopper's library")?;
    owned
        .into_iter()
        .map(|o| {
            Ok(LibraryItem {
                product_title: o.title,
                product_slug: o.slug,
                kind: o.kind,
                order_id: OrderId::parse(&o.public_id)?,
                since: o.since,
                under_dispute: o.suspended,
                downloadable: o.downloadable,
            })
        })
        .collect()
}

/// The newest order through which `user` may download the file product `slug` now.
pub async fn owned_file(
    pool: &PgPool,
    user: i64,
    slug: &str,
) -> Result<Option<OrderId>, ShopError> {
    let order = sqlx::query_scalar!(
        "select o.public_id
         from entitlement e
         join customer_order o on o.id = e.order_id
         join product p on p.id = e.product_id
         where o.user_id = $1 and p.slug = $2 and p.kind = 'download'
           and e.revoked_at is null and e.suspended_at is null
           and exists (select from product_file f where f.product_id = p.id)
         order by e.granted_at desc
         limit 1",
        user,
        slug
    )
    .fetch_optional(pool)
    .await
    .or_internal("Failed to check what a shopper owns")?;
    order
        .map(|id| OrderId::parse(&id).map_err(ShopError::from))
        .transpose()
}
