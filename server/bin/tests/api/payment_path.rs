//! The payment path through the real server, a database of its own and the Stripe stand-in:
//! amounts come from the database, webhooks are verified before anything is stored, and
//! fulfilment happens exactly once whatever order or number of deliveries.

use crate::helpers::{
    TestApp, WEBHOOK_SECRET, eventually, lock_waiters, now, sign, spawn, spawn_with,
};
use reqwest::StatusCode;

#[tokio::test]
async fn a_changed_amount_in_the_checkout_request_has_no_effect() {
    let app = spawn().await;

    let resp = app
        .start_checkout(&[
            ("slug", "tokyo-night-presets"),
            ("amount", "1"),
            ("currency", "usd"),
        ])
        .await;

    // Fields the function does not take are ignored: the checkout opens at the database's price.
    assert_eq!(resp.status(), StatusCode::OK);
    let session: crate::helpers::Session = resp.json().await.unwrap();
    let pi = stripe_core::payment_intent::RetrievePaymentIntent::new(TestApp::intent_id(&session))
        .send(&app.stripe)
        .await
        .unwrap();
    assert_eq!(
        (pi.amount, pi.currency.to_string()),
        (1500, "jpy".to_string())
    );
    let orders: Vec<(i64, String)> =
        sqlx::query_as("select amount_minor, currency from customer_order")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        orders,
        [(1500, "jpy".to_string())],
        "one order, at the database's price"
    );
}

#[tokio::test]
async fn opening_checkout_again_reuses_the_order_and_its_intent() {
    let app = spawn().await;
    let first = app.checkout("field-recordings-vol-1").await;
    let second = app.checkout("field-recordings-vol-1").await;
    assert_eq!(first.order_id, second.order_id);
    assert_eq!(first.client_secret, second.client_secret);
    assert_eq!(app.count("select count(*) from customer_order").await, 1);
    let creates = app
        .stripe_calls()
        .await
        .iter()
        .filter(|r| r["method"] == "POST" && r["path"] == "/v1/payment_intents")
        .count();
    assert_eq!(creates, 1, "one PaymentIntent asked for");
}

#[tokio::test]
async fn a_forged_expired_or_altered_webhook_changes_no_row() {
    let app = spawn().await;
    let session = app.checkout("field-recordings-vol-1").await;
    app.pay(&session, "pm_card_visa").await;
    let payload = app.event_payload("payment_intent.succeeded").await;

    let forged = app
        .deliver(&payload, &sign(&payload, "whsec_someone_else", now()))
        .await;
    let expired = app
        .deliver(&payload, &sign(&payload, WEBHOOK_SECRET, now() - 600))
        .await;
    let altered_body = payload.replace("\"amount\":1200", "\"amount\":1");
    assert_ne!(altered_body, payload);
    let altered = app
        .deliver(&altered_body, &sign(&payload, WEBHOOK_SECRET, now()))
        .await;
    let unsigned = app
        .http
        .post(format!("{}/webhooks/stripe", app.base))
        .body(payload.clone())
        .send()
        .await
        .unwrap()
        .status();

    assert_eq!(
        [forged, expired, altered, unsigned],
        [StatusCode::BAD_REQUEST; 4]
    );
    assert_eq!(app.count("select count(*) from stripe_event").await, 0);
    assert_eq!(app.count("select count(*) from entitlement").await, 0);
    assert_eq!(app.order_status(&session.order_id).await, "pending");
}

#[tokio::test]
async fn the_same_event_delivered_three_times_concurrently_fulfils_once() {
    let app = spawn().await;
    let session = app.checkout("field-recordings-vol-1").await;
    app.pay(&session, "pm_card_visa").await;
    let payload = app.event_payload("payment_intent.succeeded").await;

    let statuses = futures::future::join_all((0..3).map(|_| app.deliver_signed(&payload))).await;

    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(app.order_status(&session.order_id).await, "paid");
    assert_eq!(app.count("select count(*) from entitlement").await, 1);
    assert_eq!(
        app.count("select count(*) from stripe_event where handled_at is not null")
            .await,
        1
    );
}

#[tokio::test]
async fn an_event_for_an_order_not_yet_visible_is_answered_5xx_and_succeeds_on_retry() {
    let app = spawn().await;
    let session = app.checkout("field-recordings-vol-1").await;
    app.pay(&session, "pm_card_visa").await;
    let payload = app.event_payload("payment_intent.succeeded").await;
    // Make the order invisible, as if its transaction had not committed yet.
    let saved: (String, i64) = sqlx::query_as("select public_id, product_id from customer_order")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    sqlx::query("update customer_order set payment_intent_id = null, public_id = 'ord_hidden' ")
        .execute(&app.pool)
        .await
        .unwrap();

    let first = app.deliver_signed(&payload).await;
    assert!(first.is_server_error(), "{first}");
    assert_eq!(
        app.count("select count(*) from stripe_event where handled_at is null")
            .await,
        1,
        "kept for the retry"
    );

    sqlx::query("update customer_order set public_id = $1")
        .bind(&saved.0)
        .execute(&app.pool)
        .await
        .unwrap();
    let retry = app.deliver_signed(&payload).await;

    assert_eq!(retry, StatusCode::OK);
    assert_eq!(app.order_status(&session.order_id).await, "paid");
    assert_eq!(app.count("select count(*) from entitlement").await, 1);
}

#[tokio::test]
async fn a_late_processing_after_succeeded_leaves_the_order_paid() {
    let app = spawn().await;
    app.standin_post("config", serde_json::json!({ "processing_ms": 50 }))
        .await;
    let session = app.checkout("field-recordings-vol-1").await;
    app.pay(&session, "pm_card_visa").await;
    let succeeded = app.await_event("payment_intent.succeeded").await;
    let processing = app.event_payload("payment_intent.processing").await;

    assert_eq!(app.deliver_signed(&succeeded).await, StatusCode::OK);
    assert_eq!(app.deliver_signed(&processing).await, StatusCode::OK);

    assert_eq!(app.order_status(&session.order_id).await, "paid");
}

#[tokio::test]
async fn with_no_webhook_secret_the_route_answers_503_and_stores_nothing() {
    let app = spawn_with(None).await;
    let session = app.checkout("field-recordings-vol-1").await;
    app.pay(&session, "pm_card_visa").await;
    let payload = app.event_payload("payment_intent.succeeded").await;

    let status = app
        .deliver(&payload, &sign(&payload, "whsec_anything", now()))
        .await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.count("select count(*) from stripe_event").await, 0);
}

#[tokio::test]
async fn the_stand_ins_own_webhook_delivery_fulfils_the_order() {
    let app = spawn().await;
    app.connect_webhooks(WEBHOOK_SECRET).await;
    let session = app.checkout("tokyo-night-presets").await;

    app.pay(&session, "pm_card_visa").await;

    app.await_order_status(&session.order_id, "paid").await;
    assert_eq!(app.count("select count(*) from entitlement").await, 1);
}

#[tokio::test]
async fn the_order_page_settles_a_paid_order_when_no_webhook_has_come() {
    let app = spawn().await;
    let session = app.checkout("field-recordings-vol-1").await;
    app.pay(&session, "pm_card_visa").await;

    let page = app
        .http
        .get(format!("{}/orders/{}", app.base, session.order_id))
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();

    assert!(html.contains(">Paid<"), "{html}");
    assert_eq!(app.order_status(&session.order_id).await, "paid");
    assert_eq!(app.count("select count(*) from entitlement").await, 1);
}

#[tokio::test]
async fn the_order_page_never_says_paid_for_an_unpaid_intent() {
    let app = spawn().await;
    // Each order stops in another state short of paid.
    let waiting = app.checkout("field-recordings-vol-1").await;
    let authenticating = fresh_checkout(&app, "tokyo-night-presets").await;
    app.pay(&authenticating, "pm_card_authenticationRequired")
        .await;
    let underpaid = fresh_checkout(&app, "api-credits-1000").await;
    // Paid in full at Stripe, but for less than the order costs.
    stripe_core::payment_intent::UpdatePaymentIntent::new(TestApp::intent_id(&underpaid))
        .amount(100)
        .send(&app.stripe)
        .await
        .unwrap();
    app.pay(&underpaid, "pm_card_visa").await;
    app.standin_post("config", serde_json::json!({ "processing_ms": 600_000 }))
        .await;
    let processing = fresh_checkout(&app, "studio-membership").await;
    app.pay(&processing, "pm_card_visa").await;

    for (session, shown) in [
        (&waiting, "Awaiting payment"),
        (&authenticating, "Awaiting payment"),
        (&processing, "Processing"),
        (&underpaid, "Being checked"),
    ] {
        let (status, html) = app.page(&format!("/orders/{}", session.order_id)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!html.contains(">Paid<"), "{shown}: {html}");
        assert!(html.contains(shown), "{shown}: {html}");
        assert_ne!(app.order_status(&session.order_id).await, "paid");
    }
    assert_eq!(app.count("select count(*) from entitlement").await, 0);
}

/// Checkout for `slug` in a browser of its own, so it opens a new order.
async fn fresh_checkout(app: &TestApp, slug: &str) -> crate::helpers::Session {
    let resp = reqwest::Client::new()
        .post(format!("{}/api/start_checkout", app.base))
        .form(&[("slug", slug)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn a_declined_payment_is_recorded_and_the_same_order_can_then_be_paid() {
    let app = spawn().await;
    let session = app.checkout("field-recordings-vol-1").await;
    let declined =
        stripe_core::payment_intent::ConfirmPaymentIntent::new(TestApp::intent_id(&session))
            .payment_method("pm_card_chargeDeclined")
            .send(&app.stripe)
            .await;
    assert!(declined.is_err());
    let failed = app.event_payload("payment_intent.payment_failed").await;
    assert_eq!(app.deliver_signed(&failed).await, StatusCode::OK);
    assert_eq!(app.order_status(&session.order_id).await, "failed");

    app.pay(&session, "pm_card_visa").await;
    let succeeded = app.event_payload("payment_intent.succeeded").await;
    assert_eq!(app.deliver_signed(&succeeded).await, StatusCode::OK);

    assert_eq!(app.order_status(&session.order_id).await, "paid");
}

#[tokio::test]
async fn an_unknown_order_page_is_not_found_and_says_nothing_else() {
    let app = spawn().await;
    let real = app.paid_order("field-recordings-vol-1").await;

    let (status, html) = app.page("/orders/ord_aaaaaaaaaaaaaaaaaaaaaaaaaa").await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("We couldn't find that."), "{html}");
    for leak in [
        "class=\"order\"",
        real.order_id.as_str(),
        "Field Recordings",
        "$12.00",
        "Paid",
        "Awaiting payment",
    ] {
        assert!(!html.contains(leak), "the page shows {leak:?}: {html}");
    }
}

#[tokio::test]
async fn a_bad_email_is_a_400_with_a_plain_message_and_changes_nothing() {
    let app = spawn().await;
    let session = app.checkout("field-recordings-vol-1").await;

    let resp = app
        .http
        .post(format!("{}/api/set_checkout_email", app.base))
        .form(&[
            ("order_id", session.order_id.as_str()),
            ("email", "<script>@x"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("valid email"));
    assert_eq!(
        app.count("select count(*) from customer_order where email is not null")
            .await,
        0
    );
}

#[tokio::test]
async fn one_browser_paying_for_two_products_keeps_an_order_for_each() {
    let app = spawn().await;
    let recordings = app.checkout("field-recordings-vol-1").await;
    let presets = app.checkout("tokyo-night-presets").await;
    assert_ne!(recordings.order_id, presets.order_id);

    // The first tab goes on paying after the second opened its form.
    for (order, email) in [(&recordings, "a@example.com"), (&presets, "b@example.com")] {
        let resp = app
            .http
            .post(format!("{}/api/set_checkout_email", app.base))
            .form(&[("order_id", order.order_id.as_str()), ("email", email)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{}", order.order_id);
    }
    let again = app.checkout("field-recordings-vol-1").await;
    assert_eq!(again.order_id, recordings.order_id);
    assert_eq!(app.count("select count(*) from customer_order").await, 2);
}

#[tokio::test]
async fn another_browser_cannot_set_the_email_of_an_order_it_did_not_open() {
    let app = spawn().await;
    let session = app.checkout("field-recordings-vol-1").await;

    let stranger = reqwest::Client::new()
        .post(format!("{}/api/set_checkout_email", app.base))
        .form(&[
            ("order_id", session.order_id.as_str()),
            ("email", "thief@example.com"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(stranger.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.count("select count(*) from customer_order where email is not null")
            .await,
        0
    );
}

#[tokio::test]
async fn an_event_for_a_payment_that_is_not_the_shops_is_acknowledged_and_ignored() {
    let app = spawn().await;
    let ours = app.checkout("field-recordings-vol-1").await;
    let other =
        stripe_core::payment_intent::CreatePaymentIntent::new(1200, stripe_types::Currency::USD)
            .send(&app.stripe)
            .await
            .unwrap();
    stripe_core::payment_intent::ConfirmPaymentIntent::new(other.id.clone())
        .payment_method("pm_card_visa")
        .send(&app.stripe)
        .await
        .unwrap();
    let payload = app.event_payload("payment_intent.succeeded").await;
    assert!(payload.contains(other.id.as_str()));

    assert_eq!(app.deliver_signed(&payload).await, StatusCode::OK);

    assert_eq!(
        app.count("select count(*) from stripe_event where handled_at is not null")
            .await,
        1
    );
    assert_eq!(app.order_status(&ours.order_id).await, "pending");
    assert_eq!(app.count("select count(*) from customer_order").await, 1);
    assert_eq!(app.count("select count(*) from entitlement").await, 0);
}

async fn refund_state(app: &TestApp, order_id: &str) -> (String, i64, bool) {
    sqlx::query_as(
        "select o.status::text, o.amount_refunded_minor, e.revoked_at is not null
         from customer_order o join entitlement e on e.order_id = o.id
         where o.public_id = $1",
    )
    .bind(order_id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_partial_refund_marks_the_order_partially_refunded_and_keeps_the_grant() {
    let app = spawn().await;
    let order = app.paid_order("field-recordings-vol-1").await;

    app.refund(&order, Some(400)).await;
    let refunded = app.event_payload("charge.refunded").await;
    assert_eq!(app.deliver_signed(&refunded).await, StatusCode::OK);

    assert_eq!(
        refund_state(&app, &order.order_id).await,
        ("partially_refunded".to_string(), 400, false)
    );
    let (_, page) = app.page(&format!("/orders/{}", order.order_id)).await;
    assert!(page.contains("Partially refunded"), "{page}");
}

#[tokio::test]
async fn a_full_refund_marks_the_order_refunded_and_revokes_the_grant() {
    let app = spawn().await;
    let order = app.paid_order("field-recordings-vol-1").await;

    app.refund(&order, None).await;
    let refunded = app.event_payload("charge.refunded").await;
    assert_eq!(app.deliver_signed(&refunded).await, StatusCode::OK);

    assert_eq!(
        refund_state(&app, &order.order_id).await,
        ("refunded".to_string(), 1200, true)
    );
}

#[tokio::test]
async fn a_late_smaller_refund_event_never_lowers_the_refunded_amount() {
    let app = spawn().await;
    let order = app.paid_order("field-recordings-vol-1").await;
    app.refund(&order, Some(400)).await;
    app.refund(&order, None).await;
    let events = app.event_payloads("charge.refunded").await;
    let [full, partial] = events.as_slice() else {
        panic!("two charge.refunded events: {events:?}")
    };

    // The running total of 1200 arrives first; the event that said 400 comes late.
    assert_eq!(app.deliver_signed(full).await, StatusCode::OK);
    assert_eq!(app.deliver_signed(partial).await, StatusCode::OK);

    assert_eq!(
        refund_state(&app, &order.order_id).await,
        ("refunded".to_string(), 1200, true)
    );
}

#[tokio::test]
async fn while_a_webhook_secret_is_rolled_events_signed_with_either_are_accepted_and_no_other() {
    let app = spawn_with(Some("whsec_old_one,whsec_new_one")).await;

    app.connect_webhooks("whsec_old_one").await;
    let before = fresh_checkout(&app, "tokyo-night-presets").await;
    app.pay(&before, "pm_card_visa").await;
    app.await_order_status(&before.order_id, "paid").await;

    app.connect_webhooks("whsec_new_one").await;
    let after = fresh_checkout(&app, "field-recordings-vol-1").await;
    app.pay(&after, "pm_card_visa").await;
    app.await_order_status(&after.order_id, "paid").await;

    app.connect_webhooks("whsec_someone_else").await;
    let stranger = fresh_checkout(&app, "api-credits-1000").await;
    app.pay(&stranger, "pm_card_visa").await;
    // Wait for the stand-in to record the shop's answer to that payment's delivery.
    eventually("a refused payment_intent.succeeded delivery", || async {
        let log: Vec<serde_json::Value> = app.standin_get("deliveries").await;
        log.iter()
            .any(|d| d["event_type"] == "payment_intent.succeeded" && d["status"] == 400)
            .then_some(())
    })
    .await;
    assert_eq!(app.order_status(&stranger.order_id).await, "pending");
    assert_eq!(app.count("select count(*) from entitlement").await, 2);
}

#[tokio::test]
async fn the_page_of_a_settled_order_never_calls_stripe() {
    let app = spawn().await;
    let order = app.paid_order("field-recordings-vol-1").await;
    let before = app.stripe_calls().await.len();

    for _ in 0..3 {
        let (status, html) = app.page(&format!("/orders/{}", order.order_id)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains(">Paid<"), "{html}");
    }

    let calls = app.stripe_calls().await;
    assert_eq!(
        calls.len(),
        before,
        "calls after the page views: {:?}",
        &calls[before..]
    );
}

#[tokio::test]
async fn a_checkout_whose_intent_creation_got_a_stripe_500_succeeds_on_retry_under_the_next_key() {
    let app = spawn().await;
    app.fail_next_intent_create().await;

    let failed = app.start_checkout(&[("slug", "tokyo-night-presets")]).await;
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        failed.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!("PaymentsUnavailable")
    );
    let session = app.checkout("tokyo-night-presets").await;

    assert_eq!(app.count("select count(*) from customer_order").await, 1);
    let log = app.stripe_calls().await;
    let creates: Vec<(u64, &str)> = log
        .iter()
        .filter(|r| r["method"] == "POST" && r["path"] == "/v1/payment_intents")
        .map(|r| {
            (
                r["status"].as_u64().unwrap(),
                r["idempotency_key"].as_str().unwrap(),
            )
        })
        .collect();
    // Stripe keeps a 500 under its key for a day, so the retry must use another one.
    let first = format!("order-{}-intent", session.order_id);
    let second = format!("order-{}-intent-1", session.order_id);
    assert_eq!(creates, [(500, first.as_str()), (200, second.as_str())]);
    let intents = stripe_core::payment_intent::ListPaymentIntent::new()
        .send(&app.stripe)
        .await
        .unwrap();
    assert_eq!(intents.data.len(), 1);
}

#[tokio::test]
async fn a_tab_whose_session_cookie_was_replaced_still_sets_the_email_with_its_client_secret() {
    let app = spawn().await;
    // Two tabs of a brand-new browser start checkout at once: two sessions are made and the
    // browser keeps only one cookie. The other tab still holds its order's client secret.
    let session = app.checkout("field-recordings-vol-1").await;
    let other_tab = reqwest::Client::new();
    let set = |secret: &str| {
        other_tab
            .post(format!("{}/api/set_checkout_email", app.base))
            .form(&[
                ("order_id", session.order_id.as_str()),
                ("email", "buyer@example.com"),
                ("client_secret", secret),
            ])
            .send()
    };

    let wrong = set("pi_x_secret_not_this_one").await.unwrap();
    assert_eq!(wrong.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.count("select count(*) from customer_order where email is not null")
            .await,
        0
    );

    let right = set(&session.client_secret).await.unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    let email: Option<String> =
        sqlx::query_scalar("select email from customer_order where public_id = $1")
            .bind(&session.order_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(email.as_deref(), Some("buyer@example.com"));
}

#[tokio::test]
async fn a_payment_settling_while_a_refund_of_it_is_recorded_ends_partly_refunded_with_its_notice()
{
    let app = spawn().await;
    let session = app.checkout("field-recordings-vol-1").await;
    app.pay(&session, "pm_card_visa").await;
    let payload = app.event_payload("payment_intent.succeeded").await;
    // A refund of part of the payment, reported before the payment itself, is being recorded:
    // not yet committed when the payment's event arrives.
    let mut refund = app.pool.begin().await.unwrap();
    sqlx::query(
        "update customer_order set amount_refunded_minor = 100, updated_at = now()
         where public_id = $1",
    )
    .bind(&session.order_id)
    .execute(&mut *refund)
    .await
    .unwrap();
    let release = async {
        // The delivery has read the order as it was and now waits for its row.
        eventually("the delivery waiting for the order", || async {
            (lock_waiters(&app.pool).await > 0).then_some(())
        })
        .await;
        refund.commit().await.unwrap();
    };
    let (status, ()) = tokio::join!(app.deliver_signed(&payload), release);

    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.order_status(&session.order_id).await,
        "partially_refunded"
    );
    assert_eq!(
        app.count("select count(*) from outbound_email where kind = 'refund'")
            .await,
        1,
        "the refund's notice"
    );
    assert_eq!(app.count("select count(*) from entitlement").await, 1);
    assert_eq!(
        app.count("select count(*) from stripe_event where handled_at is not null")
            .await,
        1
    );
}
