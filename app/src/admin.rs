//! What the admin reads: sales, orders with everything known of them, and the inbox of Stripe
//! events. Only the admin's server functions call these, after checking who asks.

use sqlx::PgPool;

use crate::domain::{
    Currency, DisputeStatus, InvalidInput, Money, OrderId, OrderStatus, ProductKind,
};
use crate::models::{
    AdminEvent, AdminGrant, AdminOrderLine, AdminRefund, Cost, EventList, OrderFilter, OrderList,
    OrderRecord, Sales, ShopOverview,
};

/// Orders on one page of the admin's list.
pub const ORDERS_PER_PAGE: i64 = 50;
/// Events on one page of the inbox.
pub const EVENTS_PER_PAGE: i64 = 50;
/// Days the sales chart covers.
const DAYS: i64 = 30;

pub const BAD_DATE: &str = "Please enter dates as YYYY-MM-DD.";

/// Sales per currency over the last 30 UTC days, and what needs a person now.
pub async fn overview(pool: &PgPool) -> Result<ShopOverview, sqlx::Error> {
    // Each paid order counts on the day it was paid, less what has been refunded of it since
    // (a refund lowers its sale's day, so a day's figure is what that day's sales came to).
    let rows = sqlx::query!(
        r#"with days as (
               select d::date as day
               from generate_series((now() at time zone 'utc')::date - ($1::int - 1),
                                    (now() at time zone 'utc')::date, interval '1 day') d
           ),
           sold as (
               select currency, (paid_at at time zone 'utc')::date as day,
                      sum(amount_minor - amount_refunded_minor)::bigint as net
               from customer_order
               where status in ('paid', 'partially_refunded', 'refunded') and amount_minor > 0
                 and paid_at >= (now() at time zone 'utc')::date - ($1::int - 1)
               group by 1, 2
           )
           select c.currency as "currency!: Currency",
                  to_char(min(days.day), 'YYYY-MM-DD') as "first_day!",
                  array_agg(coalesce(s.net, 0) order by days.day) as "daily!: Vec<i64>"
           from (select distinct currency from sold) c
           cross join days
           left join sold s on s.currency = c.currency and s.day = days.day
           group by c.currency
           order by c.currency"#,
        DAYS as i32
    )
    .fetch_all(pool)
    .await?;
    let sales = rows
        .into_iter()
        .map(|r| {
            let sum_last = |n: usize| r.daily.iter().rev().take(n).sum::<i64>();
            Sales {
                currency: r.currency,
                today: sum_last(1),
                last_7_days: sum_last(7),
                last_30_days: sum_last(DAYS as usize),
                first_day: r.first_day,
                daily: r.daily,
            }
        })
        .collect();
    let counts = sqlx::query!(
        r#"select
               (select count(*) from stripe_event where handled_at is null) as "events!",
               (select count(*) from customer_order where status = 'needs_review') as "review!",
               (select count(*) from refund_request where status = 'pending') as "refunds!""#
    )
    .fetch_one(pool)
    .await?;
    Ok(ShopOverview {
        sales,
        unhandled_events: counts.events,
        orders_to_review: counts.review,
        refunds_pending: counts.refunds,
    })
}

/// A day as the filter takes it: `YYYY-MM-DD`, a real date.
pub fn parse_day(raw: &str) -> Result<String, InvalidInput> {
    let raw = raw.trim();
    let bad = InvalidInput(BAD_DATE);
    let parts: Vec<&str> = raw.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad);
    };
    let num = |s: &str, len: usize| {
        (s.len() == len && s.chars().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(y, 4), num(m, 2), num(d, 2)) else {
        return Err(bad);
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad),
    };
    if y < 2000 || d == 0 || d > days_in_month {
        return Err(bad);
    }
    Ok(format!("{y:04}-{m:02}-{d:02}"))
}

/// `%` and `_` typed into the email box are themselves, not patterns.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

struct LineRow {
    public_id: String,
    created: String,
    email: Option<String>,
    title: String,
    amount_minor: i64,
    currency: Currency,
    credits_spent: Option<i64>,
    status: OrderStatus,
    amount_refunded_minor: i64,
}

impl LineRow {
    fn into_line(self) -> Option<AdminOrderLine> {
        let amount = match (
            self.credits_spent,
            Money::new(self.amount_minor, self.currency),
        ) {
            (Some(n), _) => Cost::Credits(n),
            (None, Ok(m)) => Cost::Money(m),
            (None, Err(_)) => Cost::Free,
        };
        Some(AdminOrderLine {
            id: OrderId::parse(&self.public_id).ok()?,
            created: self.created,
            email: self.email,
            product_title: self.title,
            amount,
            status: self.status,
            refunded: Money::new(self.amount_refunded_minor, self.currency).ok(),
        })
    }
}

/// One page of orders, newest first, narrowed by `filter` (whose dates are checked already).
pub async fn orders(pool: &PgPool, filter: &OrderFilter) -> Result<OrderList, sqlx::Error> {
    let page = i64::from(filter.page.max(1));
    let email = filter
        .email
        .as_deref()
        .map(|e| format!("%{}%", like_escape(&e.trim().to_lowercase())));
    // The page is read from an index kept in the list's order (created_at, id), so its cost
    // does not grow with the shop: the whole list and its dates from one on every order, a
    // product from one by product (matched by its id, not by its slug through the join, so
    // that index is used), a status few orders reach from one of those orders. An email is
    // matched anywhere in the address, which no index serves: that search reads every order.
    let rows = sqlx::query_as!(
        LineRow,
        r#"select o.public_id,
                  to_char(o.created_at at time zone 'utc', 'YYYY-MM-DD HH24:MI') as "created!",
                  o.email, p.title, o.amount_minor, o.currency as "currency: Currency",
                  o.credits_spent, o.status as "status: OrderStatus", o.amount_refunded_minor
           from customer_order o join product p on p.id = o.product_id
           where ($1::order_status is null or o.status = $1)
             and ($2::text is null or o.created_at >= ($2::text)::timestamp at time zone 'utc')
             and ($3::text is null
                  or o.created_at < (($3::text)::date + 1)::timestamp at time zone 'utc')
             and ($4::text is null or lower(o.email) like $4)
             and ($5::text is null
                  or o.product_id = (select id from product where slug = $5))
           order by o.created_at desc, o.id desc
           limit $6 offset $7"#,
        filter.status as Option<OrderStatus>,
        filter.from,
        filter.to,
        email,
        filter.product,
        ORDERS_PER_PAGE + 1,
        (page - 1) * ORDERS_PER_PAGE
    )
    .fetch_all(pool)
    .await?;
    let more = rows.len() as i64 > ORDERS_PER_PAGE;
    let orders = rows
        .into_iter()
        .take(ORDERS_PER_PAGE as usize)
        .filter_map(LineRow::into_line)
        .collect();
    let products = sqlx::query!("select slug, title from product order by title")
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|p| (p.slug, p.title))
        .collect();
    Ok(OrderList {
        orders,
        more,
        products,
    })
}

/// One order with its payment, grants, refunds and events; `None` if there is none.
pub async fn order(pool: &PgPool, id: &OrderId) -> Result<Option<OrderRecord>, sqlx::Error> {
    let Some(o) = sqlx::query!(
        r#"select o.id, o.public_id,
                  to_char(o.created_at at time zone 'utc', 'YYYY-MM-DD HH24:MI') as "created!",
                  o.email, p.title, p.slug, p.kind as "kind: ProductKind", o.amount_minor,
                  o.currency as "currency: Currency", o.credits_spent,
                  o.status as "status: OrderStatus", o.amount_refunded_minor,
                  o.payment_intent_id, o.failure_message,
                  to_char(o.paid_at at time zone 'utc', 'YYYY-MM-DD HH24:MI') as paid_at,
                  order_dispute_status(o.id) as "dispute_status: DisputeStatus",
                  u.email as "account?",
                  exists (select from refund_request r
                          where r.order_id = o.id and r.status = 'pending') as "refund_pending!"
           from customer_order o
           join product p on p.id = o.product_id
           left join app_user u on u.id = o.user_id
           where o.public_id = $1"#,
        id.as_str()
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let grants = sqlx::query!(
        r#"select to_char(granted_at at time zone 'utc', 'YYYY-MM-DD HH24:MI') as "since!",
                  to_char(revoked_at at time zone 'utc', 'YYYY-MM-DD HH24:MI') as revoked,
                  suspended_at is not null as "suspended!"
           from entitlement where order_id = $1 order by id"#,
        o.id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|g| AdminGrant {
        since: g.since,
        revoked: g.revoked,
        suspended: g.suspended,
    })
    .collect();
    let refunds = sqlx::query!(
        r#"select r.amount_minor, r.status::text as "status!",
                  to_char(r.created_at at time zone 'utc', 'YYYY-MM-DD HH24:MI') as "requested!",
                  u.email as "by?", r.last_error
           from refund_request r left join app_user u on u.id = r.requested_by
           where r.order_id = $1 order by r.id"#,
        o.id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .filter_map(|r| {
        Some(AdminRefund {
            amount: Money::new(r.amount_minor, o.currency).ok()?,
            status: r.status,
            requested: r.requested,
            by: r.by.unwrap_or_else(|| "the buyer".into()),
            error: r.last_error,
        })
    })
    .collect();
    let events = match &o.payment_intent_id {
        Some(intent) => sqlx::query_as!(
            EventRow,
            r#"select id, type as type_,
                      to_char(received_at at time zone 'utc', 'YYYY-MM-DD HH24:MI:SS') as "received!",
                      to_char(handled_at at time zone 'utc', 'YYYY-MM-DD HH24:MI:SS') as handled,
                      attempts, last_error, source, payload is not null as "kept!"
               from stripe_event where payment_intent_id = $1
               order by received_at, id"#,
            intent
        )
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(AdminEvent::from)
        .collect(),
        None => Vec::new(),
    };
    let left = o.amount_minor - o.amount_refunded_minor;
    let (refundable, not_refundable) = if o.payment_intent_id.is_none() || o.amount_minor == 0 {
        (
            None,
            Some("Nothing was paid through Stripe for this order.".to_string()),
        )
    } else if o.status == OrderStatus::NeedsReview {
        (
            None,
            Some(
                "This payment is held for review: refund it in full on Stripe's dashboard, and that settles it here."
                    .to_string(),
            ),
        )
    } else if !o.status.is_paid() {
        (None, Some("Only a paid order can be refunded.".to_string()))
    } else if o.refund_pending {
        (
            None,
            Some("A refund of this order is on its way.".to_string()),
        )
    } else if left <= 0 {
        (None, Some("Everything paid has been refunded.".to_string()))
    } else {
        (Money::new(left, o.currency).ok(), None)
    };
    let line = LineRow {
        public_id: o.public_id,
        created: o.created,
        email: o.email,
        title: o.title,
        amount_minor: o.amount_minor,
        currency: o.currency,
        credits_spent: o.credits_spent,
        status: o.status,
        amount_refunded_minor: o.amount_refunded_minor,
    };
    let Some(line) = line.into_line() else {
        return Ok(None);
    };
    Ok(Some(OrderRecord {
        line,
        product_slug: o.slug,
        kind: o.kind,
        account: o.account,
        payment_intent_id: o.payment_intent_id,
        paid_at: o.paid_at,
        failure_message: o.failure_message,
        dispute: o.dispute_status,
        grants,
        refunds,
        events,
        refundable,
        not_refundable,
        form_key: crate::library::SpendKey::generate().as_str().to_string(),
    }))
}

struct EventRow {
    id: String,
    type_: String,
    received: String,
    handled: Option<String>,
    attempts: i32,
    last_error: Option<String>,
    source: String,
    kept: bool,
}

impl From<EventRow> for AdminEvent {
    fn from(e: EventRow) -> Self {
        AdminEvent {
            retryable: e.handled.is_none() && e.kept,
            id: e.id,
            type_: e.type_,
            received: e.received,
            handled: e.handled,
            attempts: e.attempts,
            error: e.last_error,
            from_list: e.source == "events_list",
        }
    }
}

/// One page of the inbox, newest first; only those not handled yet when `unhandled` is set.
pub async fn events(pool: &PgPool, unhandled: bool, page: u32) -> Result<EventList, sqlx::Error> {
    let page = i64::from(page.max(1));
    let rows = sqlx::query_as!(
        EventRow,
        r#"select id, type as type_,
                  to_char(received_at at time zone 'utc', 'YYYY-MM-DD HH24:MI:SS') as "received!",
                  to_char(handled_at at time zone 'utc', 'YYYY-MM-DD HH24:MI:SS') as handled,
                  attempts, last_error, source, payload is not null as "kept!"
           from stripe_event
           where not $1 or handled_at is null
           order by received_at desc, id desc
           limit $2 offset $3"#,
        unhandled,
        EVENTS_PER_PAGE + 1,
        (page - 1) * EVENTS_PER_PAGE
    )
    .fetch_all(pool)
    .await?;
    let more = rows.len() as i64 > EVENTS_PER_PAGE;
    Ok(EventList {
        events: rows
            .into_iter()
            .take(EVENTS_PER_PAGE as usize)
            .map(AdminEvent::from)
            .collect(),
        more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_days_are_real_dates() {
        assert_eq!(parse_day("2026-11-30").as_deref(), Ok("2026-11-30"));
        assert_eq!(parse_day(" 2024-02-29 ").as_deref(), Ok("2024-02-29"));
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-1-01",
            "30/11/2026",
            "",
            "2026-11-31x",
        ] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn typed_emails_match_literally() {
        assert_eq!(like_escape("a_b%c\\"), "a\\_b\\%c\\\\");
    }
}
