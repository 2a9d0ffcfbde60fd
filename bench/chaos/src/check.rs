//! The end-of-run check: every delivered event matched to its order, and that order to its one
//! live grant (or, for an order refunded in full, to none live: no grant, or one revoked),
//! field by field. Totals alone would pass an event that settled the wrong order, a grant
//! for the wrong product, a revoked grant, or orders nobody paid for.

use std::collections::{HashMap, HashSet};

use anyhow::ensure;
use sqlx::PgPool;

/// What a delivered `payment_intent.succeeded` event says was paid.
#[derive(Debug, Clone, PartialEq)]
pub struct Paid {
    pub event_id: String,
    pub intent_id: String,
    pub order_id: String,
    pub product: String,
    pub amount: i64,
    pub currency: String,
}

impl Paid {
    /// Reads an event as delivered (the raw JSON).
    pub fn from_event(raw: &str) -> anyhow::Result<Self> {
        let event: serde_json::Value = serde_json::from_str(raw)?;
        let intent = &event["data"]["object"];
        let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
        let paid = (|| {
            Some(Paid {
                event_id: text(&event["id"])?,
                intent_id: text(&intent["id"])?,
                order_id: text(&intent["metadata"]["order_id"])?,
                product: text(&intent["metadata"]["product"])?,
                amount: intent["amount_received"].as_i64()?,
                currency: text(&intent["currency"])?,
            })
        })();
        paid.ok_or_else(|| anyhow::anyhow!("not a payment_intent.succeeded of the shop's: {raw}"))
    }
}

/// Checks the database against the events that were delivered; `refunded` names the intents
/// refunded in full (their `charge.refunded` delivered before their payment), and `unpaid`
/// counts the orders the run opened and never paid. The error lists every mismatch.
pub async fn matches(
    pool: &PgPool,
    delivered: &[Paid],
    refunded: &HashSet<String>,
    unpaid: usize,
) -> anyhow::Result<()> {
    let orders = sqlx::query!(
        r#"select o.public_id, o.payment_intent_id, o.status::text as "status!", o.amount_minor,
                  o.currency, p.slug, o.amount_refunded_minor,
                  (select count(*) from entitlement e where e.order_id = o.id) as "grants!",
                  (select count(*) from entitlement e
                   where e.order_id = o.id and e.product_id = o.product_id
                     and e.revoked_at is null) as "live_grants_for_the_product!"
           from customer_order o join product p on p.id = o.product_id"#
    )
    .fetch_all(pool)
    .await?;
    let handled: HashSet<String> =
        sqlx::query_scalar!("select id from stripe_event where handled_at is not null")
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect();
    let live_grants =
        sqlx::query_scalar!(r#"select count(*) as "n!" from entitlement where revoked_at is null"#)
            .fetch_one(pool)
            .await?;

    let by_intent: HashMap<&str, _> = orders
        .iter()
        .filter_map(|o| o.payment_intent_id.as_deref().map(|pi| (pi, o)))
        .collect();
    let mut wrong = Vec::new();
    for paid in delivered {
        if !handled.contains(&paid.event_id) {
            wrong.push(format!("event {} is not handled", paid.event_id));
        }
        let Some(order) = by_intent.get(paid.intent_id.as_str()) else {
            wrong.push(format!("no order has intent {}", paid.intent_id));
            continue;
        };
        let seen = (
            order.public_id.as_str(),
            order.status.as_str(),
            order.amount_minor,
            order.currency.as_str(),
            order.slug.as_str(),
            order.amount_refunded_minor,
            order.live_grants_for_the_product,
        );
        // Refunded in full: nothing may be live. When the refund reached the shop first there
        // is no grant at all; when the server's reconciliation (reading Stripe's events list)
        // settled the payment before the refund's delivery, there is one, revoked.
        let refunded_first = refunded.contains(&paid.intent_id);
        let (status, refunded_minor, live, most_grants) = if refunded_first {
            ("refunded", paid.amount, 0, 1)
        } else {
            ("paid", 0, 1, 1)
        };
        let expected = (
            paid.order_id.as_str(),
            status,
            paid.amount,
            paid.currency.as_str(),
            paid.product.as_str(),
            refunded_minor,
            live,
        );
        if seen != expected {
            wrong.push(format!(
                "intent {}: order (id, status, amount, currency, product, refunded, live grants for its product) is {seen:?}, expected {expected:?}",
                paid.intent_id
            ));
        }
        if order.grants > most_grants {
            wrong.push(format!(
                "intent {}: {} grants for one order",
                paid.intent_id, order.grants
            ));
        }
    }
    let n = delivered.len();
    if orders.len() != n + unpaid {
        wrong.push(format!(
            "{} orders for {n} payments and {unpaid} orders left unpaid",
            orders.len()
        ));
    }
    let kept = delivered
        .iter()
        .filter(|p| !refunded.contains(&p.intent_id))
        .count();
    if live_grants != kept as i64 {
        wrong.push(format!(
            "{live_grants} live grants for {kept} payments that were not refunded"
        ));
    }
    ensure!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database with two products, two paid orders with their grants and handled events, as
    /// a correct run leaves it; returns what the events said.
    async fn settled(pool: &PgPool) -> Vec<Paid> {
        sqlx::raw_sql(
            "insert into product (slug, title, description, kind, price_minor, currency) values
               ('a', 'A', '', 'download', 1200, 'usd'), ('b', 'B', '', 'download', 1500, 'jpy');
             insert into customer_order (public_id, product_id, amount_minor, currency, status, payment_intent_id, paid_at)
               select 'ord_a', id, 1200, 'usd', 'paid', 'pi_a', now() from product where slug = 'a';
             insert into customer_order (public_id, product_id, amount_minor, currency, status, payment_intent_id, paid_at)
               select 'ord_b', id, 1500, 'jpy', 'paid', 'pi_b', now() from product where slug = 'b';
             insert into entitlement (order_id, product_id, email)
               select id, product_id, 'x@example.com' from customer_order;
             insert into stripe_event (id, type, payload, handled_at) values
               ('evt_a', 'payment_intent.succeeded', '{}', now()),
               ('evt_b', 'payment_intent.succeeded', '{}', now());",
        )
        .execute(pool)
        .await
        .unwrap();
        [("a", "usd", 1200), ("b", "jpy", 1500)]
            .into_iter()
            .map(|(p, currency, amount)| Paid {
                event_id: format!("evt_{p}"),
                intent_id: format!("pi_{p}"),
                order_id: format!("ord_{p}"),
                product: p.to_string(),
                amount,
                currency: currency.to_string(),
            })
            .collect()
    }

    /// Closes a database made by `fresh` and removes it.
    async fn dispose(pool: PgPool) {
        let name: String = sqlx::query_scalar("select current_database()")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        let admin_url = std::env::var("TEST_DATABASE_ADMIN_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let admin = PgPool::connect(&admin_url).await.unwrap();
        sqlx::raw_sql(&format!("drop database if exists \"{name}\" with (force)"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
    }

    /// An empty, migrated database of its own for each call (tests run side by side).
    async fn fresh() -> PgPool {
        let admin_url = std::env::var("TEST_DATABASE_ADMIN_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("check_{:08x}", rand::random::<u32>());
        let url = crate::fresh_database(&admin_url, &name).await.unwrap();
        let pool = PgPool::connect(&url).await.unwrap();
        sqlx::migrate!("../../migrations").run(&pool).await.unwrap();
        pool
    }

    #[tokio::test]
    async fn a_correct_run_passes_and_each_kind_of_wrong_row_fails() {
        let mistakes = [
            ("nothing wrong", ""),
            (
                "an event settled another order",
                "update customer_order set payment_intent_id = 'pi_x' where public_id = 'ord_a';
                 update customer_order set payment_intent_id = 'pi_a' where public_id = 'ord_b';
                 update customer_order set payment_intent_id = 'pi_b' where public_id = 'ord_a';",
            ),
            (
                "a grant for the wrong product",
                "update entitlement set product_id = (select id from product where slug = 'b')",
            ),
            (
                "a revoked grant",
                "update entitlement set revoked_at = now() where order_id = (select id from customer_order where public_id = 'ord_a')",
            ),
            (
                "a wrong amount",
                "update customer_order set amount_minor = 1100 where public_id = 'ord_a'",
            ),
            (
                "an extra order",
                "insert into customer_order (public_id, product_id, amount_minor, currency) select 'ord_c', id, 1200, 'usd' from product where slug = 'a'",
            ),
            (
                "an unhandled event",
                "update stripe_event set handled_at = null where id = 'evt_b'",
            ),
        ];
        for (what, sql) in mistakes {
            let pool = fresh().await;
            let delivered = settled(&pool).await;
            if !sql.is_empty() {
                sqlx::raw_sql(sql).execute(&pool).await.unwrap();
            }
            let result = matches(&pool, &delivered, &HashSet::new(), 0).await;
            dispose(pool).await;
            assert_eq!(result.is_ok(), sql.is_empty(), "{what}: {result:?}");
        }
    }

    #[tokio::test]
    async fn a_refunded_order_passes_only_with_nothing_live_and_at_most_one_grant() {
        let refunded_first =
            "update customer_order set status = 'refunded', amount_refunded_minor = 1500
                              where public_id = 'ord_b'";
        let cases = [
            (
                "refunded, nothing granted",
                "delete from entitlement where order_id = (select id from customer_order where public_id = 'ord_b')",
                true,
            ),
            ("refunded but granted", "", false),
            (
                "refunded after reconciliation granted it: the grant revoked",
                "update entitlement set revoked_at = now() where order_id = (select id from customer_order where public_id = 'ord_b')",
                true,
            ),
            (
                "granted twice, both revoked",
                "update entitlement set revoked_at = now() where order_id = (select id from customer_order where public_id = 'ord_b');
                 alter table entitlement drop constraint entitlement_order_key;
                 insert into entitlement (order_id, product_id, email, revoked_at)
                   select order_id, product_id, email, now() from entitlement
                   where order_id = (select id from customer_order where public_id = 'ord_b')",
                false,
            ),
        ];
        for (what, sql, passes) in cases {
            let pool = fresh().await;
            let delivered = settled(&pool).await;
            sqlx::raw_sql(refunded_first).execute(&pool).await.unwrap();
            if !sql.is_empty() {
                sqlx::raw_sql(sql).execute(&pool).await.unwrap();
            }
            let refunded = HashSet::from(["pi_b".to_string()]);
            let result = matches(&pool, &delivered, &refunded, 0).await;
            dispose(pool).await;
            assert_eq!(result.is_ok(), passes, "{what}: {result:?}");
        }
        // Without being named as refunded, the same order is a mismatch.
        let pool = fresh().await;
        let delivered = settled(&pool).await;
        sqlx::raw_sql(refunded_first).execute(&pool).await.unwrap();
        assert!(
            matches(&pool, &delivered, &HashSet::new(), 0)
                .await
                .is_err()
        );
        dispose(pool).await;
    }

    #[tokio::test]
    async fn a_succeeded_event_from_the_stand_in_reads_as_what_was_paid() {
        let standin = stripe_standin::spawn(Default::default()).await.unwrap();
        let stripe = stripe::ClientBuilder::new("sk_test_chaos_check")
            .url(format!("{}/", standin.base_url))
            .build()
            .unwrap();
        let intent = stripe_core::payment_intent::CreatePaymentIntent::new(
            1500,
            stripe_types::Currency::JPY,
        )
        .metadata([
            ("order_id".to_string(), "ord_x".to_string()),
            ("product".to_string(), "tokyo-night-presets".to_string()),
        ])
        .send(&stripe)
        .await
        .unwrap();
        stripe_core::payment_intent::ConfirmPaymentIntent::new(intent.id.clone())
            .payment_method("pm_card_visa")
            .send(&stripe)
            .await
            .unwrap();
        let events: serde_json::Value = reqwest::Client::new()
            .get(format!("{}/v1/events", standin.base_url))
            .bearer_auth("sk_test_chaos_check")
            .query(&[("type", "payment_intent.succeeded")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let raw = serde_json::to_string(&events["data"][0]).unwrap();

        let paid = Paid::from_event(&raw).unwrap();

        assert_eq!(
            (
                paid.intent_id.as_str(),
                paid.order_id.as_str(),
                paid.product.as_str()
            ),
            (intent.id.as_str(), "ord_x", "tokyo-night-presets")
        );
        assert_eq!((paid.amount, paid.currency.as_str()), (1500, "jpy"));
        assert!(paid.event_id.starts_with("evt_"));
    }
}
