//! Reconciliation keeps the shop true to Stripe when webhooks are missed: an open order is
//! settled from what Stripe says of its payment, an event never delivered is found in Stripe's
//! events list, a second run changes nothing, and two runs at once do each thing once. The test
//! shops' stand-ins have no webhook endpoint: nothing is delivered unless a test delivers it.

use std::time::Duration;

use app::reconcile::{self, Reconciled};

use crate::helpers::{Session, TestApp, spawn};

async fn reconcile(app: &TestApp) -> Reconciled {
    reconcile::run(&app.state, Duration::ZERO).await.unwrap()
}

/// An order paid at Stripe whose webhook never came.
async fn paid_unannounced(app: &TestApp, slug: &str) -> Session {
    let order = app.checkout(slug).await;
    app.pay(&order, "pm_card_visa").await;
    assert_eq!(app.order_status(&order.order_id).await, "pending");
    order
}

/// Calls the stand-in answered that read one PaymentIntent.
async fn intent_reads(app: &TestApp) -> usize {
    app.stripe_calls()
        .await
        .iter()
        .filter(|r| {
            r["method"] == "GET"
                && r["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("/v1/payment_intents/pi_"))
        })
        .count()
}

#[tokio::test]
async fn with_webhooks_off_a_paid_order_is_settled_by_reconciliation_alone() {
    let app = spawn().await;
    let order = paid_unannounced(&app, "field-recordings-vol-1").await;
    let deliveries: Vec<serde_json::Value> = app.standin_get("deliveries").await;
    assert!(
        deliveries.is_empty(),
        "webhooks were delivered: {deliveries:?}"
    );

    let done = reconcile(&app).await;

    assert_eq!(done.orders_checked, 1);
    assert_eq!(done.orders_settled, 1);
    assert!(done.unsettled.is_empty(), "{:?}", done.unsettled);
    assert_eq!(app.order_status(&order.order_id).await, "paid");
    assert_eq!(
        app.count("select count(*) from entitlement where revoked_at is null")
            .await,
        1
    );
    assert_eq!(
        app.count("select count(*) from outbound_email where kind = 'receipt'")
            .await,
        1
    );
}

#[tokio::test]
async fn an_event_whose_webhook_never_came_is_backfilled_from_the_events_list() {
    let app = spawn().await;
    let order = app.paid_order("field-recordings-vol-1").await;
    // Refunded in part on Stripe's dashboard; its `charge.refunded` is never delivered.
    app.refund(&order, Some(500)).await;
    app.await_event("charge.refunded").await;
    let event_id: String =
        serde_json::from_str::<serde_json::Value>(&app.event_payload("charge.refunded").await)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();

    let done = reconcile(&app).await;

    // The paid order is not open, so only the events list could have told the shop.
    assert_eq!(done.orders_checked, 0);
    assert_eq!(done.events_backfilled, 1, "{done:?}");
    assert_eq!(
        app.order_status(&order.order_id).await,
        "partially_refunded"
    );
    let (source, handled): (String, bool) =
        sqlx::query_as("select source, handled_at is not null from stripe_event where id = $1")
            .bind(&event_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((source.as_str(), handled), ("events_list", true));
    let refunded: i64 =
        sqlx::query_scalar("select amount_refunded_minor from customer_order where public_id = $1")
            .bind(&order.order_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(refunded, 500);
}

#[tokio::test]
async fn reconciling_twice_changes_nothing_the_second_time() {
    let app = spawn().await;
    let paid = paid_unannounced(&app, "field-recordings-vol-1").await;
    let refunded = app.paid_order("tokyo-night-presets").await;
    app.refund(&refunded, None).await;
    app.await_event("charge.refunded").await;
    let first = reconcile(&app).await;
    assert_eq!(first.orders_settled, 1);
    assert!(first.events_backfilled >= 2, "{first:?}");
    let snapshot = "select (select count(*) from stripe_event)
                         + (select count(*) from outbound_email) * 1000
                         + (select count(*) from entitlement where revoked_at is null) * 1000000";
    let before = app.count(snapshot).await;
    let reads_before = intent_reads(&app).await;

    let second = reconcile(&app).await;

    assert_eq!(
        second,
        Reconciled {
            events_listed: first.events_listed,
            ..Reconciled::default()
        }
    );
    assert_eq!(app.count(snapshot).await, before);
    assert_eq!(
        intent_reads(&app).await,
        reads_before,
        "no open order left to ask about"
    );
    assert_eq!(app.order_status(&paid.order_id).await, "paid");
    assert_eq!(app.order_status(&refunded.order_id).await, "refunded");
}

#[tokio::test]
async fn two_reconcilers_at_once_do_each_thing_once() {
    let app = spawn().await;
    let mut orders = Vec::new();
    for slug in [
        "field-recordings-vol-1",
        "tokyo-night-presets",
        "studio-membership",
    ] {
        orders.push(paid_unannounced(&app, slug).await);
    }
    let reads_before = intent_reads(&app).await;

    let (a, b) = tokio::join!(
        reconcile::run(&app.state, Duration::ZERO),
        reconcile::run(&app.state, Duration::ZERO)
    );
    let (a, b) = (a.unwrap(), b.unwrap());

    assert_eq!(a.orders_settled + b.orders_settled, 3, "{a:?} {b:?}");
    assert_eq!(
        a.orders_checked + b.orders_checked,
        3,
        "each order asked about once"
    );
    assert_eq!(intent_reads(&app).await - reads_before, 3);
    assert_eq!(a.events_backfilled + b.events_backfilled, 3);
    for order in &orders {
        assert_eq!(app.order_status(&order.order_id).await, "paid");
    }
    assert_eq!(
        app.count("select count(*) from entitlement").await,
        3,
        "one grant per order"
    );
    assert_eq!(
        app.count("select count(*) from outbound_email where kind = 'receipt'")
            .await,
        3,
        "one receipt per order"
    );
}

#[tokio::test]
async fn an_open_order_younger_than_the_grace_period_is_left_to_its_shopper() {
    let app = spawn().await;
    let order = paid_unannounced(&app, "field-recordings-vol-1").await;

    let done = reconcile::run(&app.state, Duration::from_secs(120))
        .await
        .unwrap();

    assert_eq!(done.orders_checked, 0);
    // Its event, though, is in Stripe's list, and settles it through the inbox.
    assert_eq!(done.events_backfilled, 1);
    assert_eq!(app.order_status(&order.order_id).await, "paid");
}

#[tokio::test]
async fn the_reconcile_command_settles_and_reports_what_needs_a_person() {
    let app = spawn().await;
    let order = paid_unannounced(&app, "field-recordings-vol-1").await;

    let out = app.server_command(&["reconcile"]).output().await.unwrap();

    let stdout = crate::helpers::succeeded(&out);
    assert!(
        stdout.contains("asked Stripe about 1 open orders, settled 1"),
        "{stdout}"
    );
    assert!(stdout.contains("nothing left unsettled"), "{stdout}");
    assert_eq!(app.order_status(&order.order_id).await, "paid");

    // A payment held for review (another amount was taken) is reported, and the command says
    // it did not settle everything.
    let held = crate::edges::paid_another_amount(&app, 100).await;
    assert_eq!(app.order_status(&held.order_id).await, "needs_review");
    let out = app.server_command(&["reconcile"]).output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{}: the amount paid does not match",
            held.order_id
        )),
        "{stdout}"
    );
}

#[tokio::test]
async fn reconciliation_with_stripe_unreachable_fails_and_keeps_its_cursor() {
    let app = spawn().await;
    app.paid_order("field-recordings-vol-1").await;
    reconcile(&app).await;
    let cursor = "select coalesce(extract(epoch from events_seen_until)::bigint, 0)
                  from reconcile_cursor";
    let before = app.count(cursor).await;
    assert!(before > 0);
    app.standin_post(
        "faults",
        serde_json::json!({ "method": "GET", "path": "/v1/events", "status": 500, "times": 10 }),
    )
    .await;

    let failed = reconcile::run(&app.state, Duration::ZERO).await;

    assert!(
        matches!(failed, Err(reconcile::ReconcileError::Stripe(_))),
        "{failed:?}"
    );
    assert_eq!(app.count(cursor).await, before);
}
