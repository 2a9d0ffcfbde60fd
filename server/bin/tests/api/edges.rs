//! The edges of the payment path where money or goods could be lost: a refund that comes before
//! the payment it refunds, a payment for another amount, an event the shop cannot read yet, an
//! event from the other Stripe mode.

use reqwest::StatusCode;

use crate::helpers::{Session, TestApp, spawn};

/// Status, refunded amount, and how many grants of the order are live.
async fn order_state(app: &TestApp, order_id: &str) -> (String, i64, i64) {
    sqlx::query_as(
        "select o.status::text, o.amount_refunded_minor,
                (select count(*) from entitlement e where e.order_id = o.id and e.revoked_at is null)
         from customer_order o where o.public_id = $1",
    )
    .bind(order_id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// An order paid at the stand-in whose `payment_intent.succeeded` has not reached the shop.
async fn paid_at_stripe_only(app: &TestApp) -> Session {
    let session = app.checkout("field-recordings-vol-1").await;
    app.pay(&session, "pm_card_visa").await;
    assert_eq!(app.order_status(&session.order_id).await, "pending");
    session
}

/// An order for 1200 whose intent was changed at Stripe to `amount` and paid, its
/// `payment_intent.succeeded` delivered.
pub(crate) async fn paid_another_amount(app: &TestApp, amount: i64) -> Session {
    let order = app.checkout("field-recordings-vol-1").await;
    stripe_core::payment_intent::UpdatePaymentIntent::new(TestApp::intent_id(&order))
        .amount(amount)
        .send(&app.stripe)
        .await
        .unwrap();
    app.pay(&order, "pm_card_visa").await;
    let succeeded = app.event_payload("payment_intent.succeeded").await;
    assert_eq!(app.deliver_signed(&succeeded).await, StatusCode::OK);
    order
}

#[tokio::test]
async fn a_full_refund_that_arrives_before_the_payment_leaves_nothing_granted() {
    let app = spawn().await;
    let order = paid_at_stripe_only(&app).await;
    app.refund(&order, None).await;

    let refunded = app.event_payload("charge.refunded").await;
    assert_eq!(app.deliver_signed(&refunded).await, StatusCode::OK);
    assert_eq!(
        order_state(&app, &order.order_id).await,
        ("pending".into(), 1200, 0),
        "the refund is remembered on the unpaid order"
    );
    let succeeded = app.event_payload("payment_intent.succeeded").await;
    assert_eq!(app.deliver_signed(&succeeded).await, StatusCode::OK);

    assert_eq!(
        order_state(&app, &order.order_id).await,
        ("refunded".into(), 1200, 0)
    );
}

#[tokio::test]
async fn a_full_refund_before_the_payment_also_holds_when_the_order_page_settles_it() {
    let app = spawn().await;
    let order = paid_at_stripe_only(&app).await;
    app.refund(&order, None).await;
    let refunded = app.event_payload("charge.refunded").await;
    assert_eq!(app.deliver_signed(&refunded).await, StatusCode::OK);

    // A refunded intent still says `succeeded`: the page settles from it.
    let page = app
        .page_until(&format!("/orders/{}", order.order_id), |html| {
            html.contains("Refunded")
        })
        .await;

    assert!(!page.contains("Thank you"), "{page}");
    assert_eq!(
        order_state(&app, &order.order_id).await,
        ("refunded".into(), 1200, 0)
    );
}

#[tokio::test]
async fn a_partial_refund_before_the_payment_is_kept_and_the_rest_is_granted() {
    let app = spawn().await;
    let order = paid_at_stripe_only(&app).await;
    app.refund(&order, Some(200)).await;

    let refunded = app.event_payload("charge.refunded").await;
    assert_eq!(app.deliver_signed(&refunded).await, StatusCode::OK);
    let succeeded = app.event_payload("payment_intent.succeeded").await;
    assert_eq!(app.deliver_signed(&succeeded).await, StatusCode::OK);

    assert_eq!(
        order_state(&app, &order.order_id).await,
        ("partially_refunded".into(), 200, 1)
    );
}

#[tokio::test]
async fn a_refund_after_the_payment_still_revokes_the_grant() {
    let app = spawn().await;
    let order = paid_at_stripe_only(&app).await;
    app.refund(&order, None).await;

    let succeeded = app.event_payload("payment_intent.succeeded").await;
    assert_eq!(app.deliver_signed(&succeeded).await, StatusCode::OK);
    assert_eq!(
        order_state(&app, &order.order_id).await,
        ("paid".into(), 0, 1)
    );
    let refunded = app.event_payload("charge.refunded").await;
    assert_eq!(app.deliver_signed(&refunded).await, StatusCode::OK);

    assert_eq!(
        order_state(&app, &order.order_id).await,
        ("refunded".into(), 1200, 0)
    );
}

#[tokio::test]
async fn a_payment_for_another_amount_is_held_for_review_and_its_order_is_never_reopened() {
    let app = spawn().await;
    // Only someone with the secret key can do this; the shop must still not grant or fail it.
    let order = paid_another_amount(&app, 100).await;

    assert_eq!(
        order_state(&app, &order.order_id).await,
        ("needs_review".into(), 0, 0)
    );
    let (status, page) = app.page(&format!("/orders/{}", order.order_id)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("We are checking your payment"), "{page}");
    let again = app.checkout("field-recordings-vol-1").await;
    assert_ne!(
        again.order_id, order.order_id,
        "a held order is never paid again"
    );
}

#[tokio::test]
async fn a_signed_event_of_an_unexpected_shape_is_kept_and_answered_5xx_until_it_is_handled() {
    let app = spawn().await;
    let payload = serde_json::json!({
        "id": "evt_unexpected_shape",
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "created": 1_700_000_000,
        "data": { "object": { "id": 5, "object": "payment_intent" } },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": "payment_intent.succeeded",
    })
    .to_string();

    assert_eq!(
        app.deliver_signed(&payload).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );

    let (handled, error): (bool, Option<String>) = sqlx::query_as(
        "select handled_at is not null, last_error from stripe_event where id = 'evt_unexpected_shape'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(!handled);
    assert!(error.is_some_and(|e| !e.is_empty()));
    assert_eq!(
        app.count("select attempts::bigint from stripe_event where id = 'evt_unexpected_shape'")
            .await,
        1
    );

    // Delivered again, it is still kept for a retry, one attempt more.
    assert_eq!(
        app.deliver_signed(&payload).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        app.count("select attempts::bigint from stripe_event where id = 'evt_unexpected_shape'")
            .await,
        2
    );

    // Once it is handled (a fixed version read it, or the admin settled it), a late copy is
    // acknowledged instead of being refused for ever, and the row is left as it is.
    sqlx::query("update stripe_event set handled_at = now() where id = 'evt_unexpected_shape'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.deliver_signed(&payload).await, StatusCode::OK);
    assert_eq!(
        app.count("select attempts::bigint from stripe_event where id = 'evt_unexpected_shape'")
            .await,
        2
    );
}

#[tokio::test]
async fn a_signed_event_of_a_type_the_shop_does_not_know_is_acknowledged_and_ignored() {
    let app = spawn().await;
    let order = app.checkout("field-recordings-vol-1").await;
    let payload = serde_json::json!({
        "id": "evt_unknown_type",
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "created": 1_700_000_000,
        "data": { "object": { "id": "thing_1", "object": "thing_from_the_future" } },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": "thing_from_the_future.created",
    })
    .to_string();

    assert_eq!(app.deliver_signed(&payload).await, StatusCode::OK);

    assert_eq!(
        app.count("select count(*) from stripe_event where id = 'evt_unknown_type' and handled_at is not null")
            .await,
        1
    );
    assert_eq!(app.order_status(&order.order_id).await, "pending");
}

#[tokio::test]
async fn an_event_from_the_other_stripe_mode_is_acknowledged_and_never_acted_on() {
    let app = spawn().await;
    let order = paid_at_stripe_only(&app).await;
    let succeeded = app.event_payload("payment_intent.succeeded").await;
    let mut event: serde_json::Value = serde_json::from_str(&succeeded).unwrap();
    event["livemode"] = true.into();
    let live = event.to_string();

    assert_eq!(app.deliver_signed(&live).await, StatusCode::OK);

    assert_eq!(
        order_state(&app, &order.order_id).await,
        ("pending".into(), 0, 0)
    );
    assert_eq!(
        app.count("select count(*) from stripe_event where last_error like 'livemode%'")
            .await,
        1
    );
}

#[tokio::test]
async fn the_database_refuses_what_the_code_never_does() {
    let app = spawn().await;
    let paid = app.paid_order("field-recordings-vol-1").await;
    let refused = |sql: &'static str| {
        let pool = app.pool.clone();
        let id = paid.order_id.clone();
        async move {
            let result = sqlx::query(sql).bind(id).execute(&pool).await;
            assert!(result.is_err(), "accepted: {sql}");
        }
    };

    // Backwards moves, whatever the code path.
    refused("update customer_order set status = 'pending', paid_at = null where public_id = $1")
        .await;
    refused("update customer_order set status = 'failed', paid_at = null where public_id = $1")
        .await;
    // `paid_at` goes with the money.
    refused("update customer_order set paid_at = null where public_id = $1").await;
    refused(
        "update customer_order set status = 'partially_refunded', paid_at = null
         where public_id = $1",
    )
    .await;
    refused("update customer_order set currency = 'USD' where public_id = $1").await;
    refused(
        "update entitlement set email = ''
         where order_id = (select id from customer_order where public_id = $1)",
    )
    .await;

    // Forward moves still work, and the row is unchanged by what was refused.
    sqlx::query("update customer_order set status = 'refunded' where public_id = $1")
        .bind(&paid.order_id)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.order_status(&paid.order_id).await, "refunded");
}

#[tokio::test]
async fn an_order_replaced_after_a_price_change_has_its_intent_canceled() {
    let app = spawn().await;
    let old = app.checkout("field-recordings-vol-1").await;
    sqlx::query("update product set price_minor = 1500 where slug = 'field-recordings-vol-1'")
        .execute(&app.pool)
        .await
        .unwrap();

    let new = app.checkout("field-recordings-vol-1").await;

    assert_ne!(new.order_id, old.order_id);
    assert_eq!(app.order_status(&old.order_id).await, "canceled");
    let intent = stripe_core::payment_intent::RetrievePaymentIntent::new(TestApp::intent_id(&old))
        .send(&app.stripe)
        .await
        .unwrap();
    assert_eq!(intent.status.as_str(), "canceled");
    // The old client secret can no longer pay the old price.
    let paid = stripe_core::payment_intent::ConfirmPaymentIntent::new(TestApp::intent_id(&old))
        .payment_method("pm_card_visa")
        .send(&app.stripe)
        .await;
    assert!(paid.is_err());
}

#[tokio::test]
async fn a_payment_held_for_review_leaves_review_only_when_all_that_was_taken_is_refunded() {
    let app = spawn().await;
    let order = paid_another_amount(&app, 2400).await; // for a 1200 order
    assert_eq!(app.order_status(&order.order_id).await, "needs_review");

    // The seller gives back the excess: the buyer paid the price, a person still decides.
    app.refund(&order, Some(1200)).await;
    let excess = app.event_payload("charge.refunded").await;
    assert_eq!(app.deliver_signed(&excess).await, StatusCode::OK);
    assert_eq!(app.order_status(&order.order_id).await, "needs_review");

    app.refund(&order, None).await;
    let rest = app.event_payload("charge.refunded").await;
    assert_ne!(rest, excess);
    assert_eq!(app.deliver_signed(&rest).await, StatusCode::OK);
    assert_eq!(
        order_state(&app, &order.order_id).await,
        ("refunded".into(), 1200, 0)
    );
}
