//! Background work: open orders expire (their PaymentIntents canceled at Stripe), events that
//! were stored but never settled are replayed (by the job queue at start, by the sweep and by
//! `server replay-events`), and client secrets and raw payloads are forgotten after retention.

use std::time::Duration;

use app::housekeeping::{self, Expiry, Forgotten};
use app::inbox::{self, Replayed};
use reqwest::StatusCode;

use crate::helpers::{Session, TestApp, build_app, eventually, spawn};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Moves an order's creation `hours` into the past.
async fn age_order(app: &TestApp, order_id: &str, hours: i32) {
    sqlx::query(
        "update customer_order set created_at = now() - make_interval(hours => $2)
         where public_id = $1",
    )
    .bind(order_id)
    .bind(hours)
    .execute(&app.pool)
    .await
    .unwrap();
}

/// The status Stripe (the stand-in) gives the order's PaymentIntent now.
async fn intent_status(app: &TestApp, session: &Session) -> String {
    stripe_core::payment_intent::RetrievePaymentIntent::new(TestApp::intent_id(session))
        .send(&app.stripe)
        .await
        .unwrap()
        .status
        .as_str()
        .to_string()
}

async fn expire(app: &TestApp) -> Expiry {
    housekeeping::expire_orders(&app.pool, &app.stripe, DAY)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_open_order_past_its_lifetime_is_closed_and_its_intent_can_no_longer_pay() {
    let app = spawn().await;
    let old = app.checkout("field-recordings-vol-1").await;
    let young = app.checkout("tokyo-night-presets").await;
    age_order(&app, &old.order_id, 25).await;

    let done = expire(&app).await;

    assert_eq!(
        done,
        Expiry {
            canceled: 1,
            ..Expiry::default()
        }
    );
    assert_eq!(app.order_status(&old.order_id).await, "canceled");
    assert_eq!(app.order_status(&young.order_id).await, "pending");
    assert_eq!(intent_status(&app, &old).await, "canceled");
    let cancel = app
        .stripe_calls()
        .await
        .into_iter()
        .find(|r| r["path"].as_str().is_some_and(|p| p.ends_with("/cancel")))
        .expect("a cancel call");
    let key = cancel["idempotency_key"].as_str().unwrap();
    assert!(
        key.starts_with(&format!("order-{}-expire-", old.order_id)),
        "{key}"
    );
    // The client secret the browser kept cannot pay the old order any more.
    let late = stripe_core::payment_intent::ConfirmPaymentIntent::new(TestApp::intent_id(&old))
        .payment_method("pm_card_visa")
        .send(&app.stripe)
        .await;
    assert!(late.is_err(), "a canceled intent was confirmed: {late:?}");
    // A second run finds nothing left to do.
    assert_eq!(expire(&app).await, Expiry::default());
}

#[tokio::test]
async fn an_expiring_order_whose_payment_already_succeeded_is_settled_paid_not_canceled() {
    let app = spawn().await;
    let order = app.checkout("field-recordings-vol-1").await;
    // Paid at Stripe; its webhook has not reached the shop.
    app.pay(&order, "pm_card_visa").await;
    age_order(&app, &order.order_id, 30).await;

    let done = expire(&app).await;

    assert_eq!(
        done,
        Expiry {
            settled: 1,
            ..Expiry::default()
        }
    );
    assert_eq!(app.order_status(&order.order_id).await, "paid");
    assert_eq!(
        app.count("select count(*) from entitlement where revoked_at is null")
            .await,
        1
    );
    assert_eq!(intent_status(&app, &order).await, "succeeded");
}

#[tokio::test]
async fn an_order_whose_intent_was_never_made_expires_without_a_call_to_stripe() {
    let app = spawn().await;
    app.fail_next_intent_create().await;
    let failed = app.start_checkout(&[("slug", "tokyo-night-presets")]).await;
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    let order_id: String = sqlx::query_scalar("select public_id from customer_order")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    age_order(&app, &order_id, 25).await;
    let calls_before = app.stripe_calls().await.len();

    let done = expire(&app).await;

    assert_eq!(done.canceled, 1);
    assert_eq!(app.order_status(&order_id).await, "canceled");
    assert_eq!(app.stripe_calls().await.len(), calls_before);
}

#[tokio::test]
async fn checkout_replaces_an_order_past_half_its_lifetime_instead_of_reusing_it() {
    let app = spawn().await;
    let first = app.checkout("field-recordings-vol-1").await;
    assert_eq!(
        app.checkout("field-recordings-vol-1").await.order_id,
        first.order_id,
        "a young order is reused"
    );
    age_order(&app, &first.order_id, 13).await;

    let second = app.checkout("field-recordings-vol-1").await;

    assert_ne!(second.order_id, first.order_id);
    // The replaced order's intent is canceled at once, not left for the sweep.
    assert_eq!(app.order_status(&first.order_id).await, "canceled");
    assert_eq!(intent_status(&app, &first).await, "canceled");
}

/// An order paid at the stand-in whose `payment_intent.succeeded` was stored in the inbox a
/// while ago but never settled, as when the server stopped between the two.
async fn stored_but_unsettled(app: &TestApp) -> Session {
    let order = app.checkout("field-recordings-vol-1").await;
    app.pay(&order, "pm_card_visa").await;
    let payload: serde_json::Value =
        serde_json::from_str(&app.event_payload("payment_intent.succeeded").await).unwrap();
    sqlx::query(
        "insert into stripe_event (id, type, payload, received_at)
         values ($1, $2, $3, now() - interval '2 minutes')",
    )
    .bind(payload["id"].as_str().unwrap())
    .bind("payment_intent.succeeded")
    .bind(&payload)
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(app.order_status(&order.order_id).await, "pending");
    order
}

#[tokio::test]
async fn an_event_stored_but_never_settled_is_settled_once_by_the_replay() {
    let app = spawn().await;
    let order = stored_but_unsettled(&app).await;

    let first = inbox::replay_unhandled(&app.state, Duration::from_secs(60))
        .await
        .unwrap();
    let second = inbox::replay_unhandled(&app.state, Duration::from_secs(60))
        .await
        .unwrap();

    assert_eq!(
        first,
        Replayed {
            settled: 1,
            already: 0,
            failing: 0
        }
    );
    assert_eq!(second, Replayed::default());
    assert_eq!(app.order_status(&order.order_id).await, "paid");
    assert_eq!(
        app.count("select count(*) from stripe_event where handled_at is null")
            .await,
        0
    );
    assert_eq!(app.count("select count(*) from entitlement").await, 1);
}

#[tokio::test]
async fn a_young_unhandled_event_is_left_to_its_delivery() {
    let app = spawn().await;
    let order = stored_but_unsettled(&app).await;
    sqlx::query("update stripe_event set received_at = now()")
        .execute(&app.pool)
        .await
        .unwrap();

    let done = inbox::replay_unhandled(&app.state, Duration::from_secs(60))
        .await
        .unwrap();

    assert_eq!(done, Replayed::default());
    assert_eq!(app.order_status(&order.order_id).await, "pending");
}

#[tokio::test]
async fn a_starting_server_replays_unhandled_events_through_its_job_queue() {
    let app = spawn().await;
    let order = stored_but_unsettled(&app).await;

    // Another server starts on the same database, with its background jobs on (the test
    // shops run without): its first housekeeping run is queued at start and taken by a worker.
    let mut settings = app.settings.clone();
    settings.background_jobs = true;
    let second = build_app(settings).await;
    tokio::spawn(second.run());

    eventually("the order settled by the start-up replay", || async {
        (app.order_status(&order.order_id).await == "paid").then_some(())
    })
    .await;
    // The work was done by a run on the queue (the first shop runs none), which the queue
    // then records as succeeded.
    eventually("a succeeded housekeeping task on the queue", || async {
        let runs: i64 = sqlx::query_scalar(
            "select count(*) from underway.task where task_queue_name = 'housekeeping'
               and state = 'succeeded'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        (runs >= 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn the_events_replay_command_settles_what_was_never_settled() {
    let app = spawn().await;
    let order = stored_but_unsettled(&app).await;

    let out = app
        .server_command(&["events", "replay"])
        .output()
        .await
        .unwrap();

    let stdout = crate::helpers::succeeded(&out);
    assert!(stdout.contains("settled 1,"), "{stdout}");
    assert_eq!(app.order_status(&order.order_id).await, "paid");
}

#[tokio::test]
async fn client_secrets_and_handled_payloads_past_retention_are_forgotten_and_unhandled_ones_kept()
{
    let app = spawn().await;
    let paid = app.paid_order("field-recordings-vol-1").await;
    let open = app.checkout("tokyo-night-presets").await;
    let unhandled = stored_but_unsettled(&app).await;
    sqlx::query("update customer_order set created_at = now() - interval '91 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("update stripe_event set received_at = now() - interval '91 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    let retention = Duration::from_secs(90 * 24 * 3600);

    let done = housekeeping::forget_old(&app.pool, retention)
        .await
        .unwrap();

    assert_eq!(
        done,
        Forgotten {
            client_secrets: 1,
            event_payloads: 1
        }
    );
    let secret_of = |order: String| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "select client_secret from customer_order where public_id = $1",
            )
            .bind(order)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(secret_of(paid.order_id.clone()).await, None);
    assert!(
        secret_of(open.order_id).await.is_some(),
        "an open order keeps its secret"
    );
    assert!(secret_of(unhandled.order_id).await.is_some());
    assert_eq!(
        app.count(
            "select count(*) from stripe_event where payload is null and handled_at is not null"
        )
        .await,
        1
    );
    assert_eq!(
        app.count(
            "select count(*) from stripe_event where payload is not null and handled_at is null"
        )
        .await,
        1,
        "the unhandled event keeps its payload"
    );
    // A late duplicate of the event whose payload was forgotten is still recognised.
    let events = app.event_payloads("payment_intent.succeeded").await;
    let paid_event = events
        .iter()
        .find(|e| e.contains(&TestApp::intent_id(&paid)))
        .unwrap();
    assert_eq!(app.deliver_signed(paid_event).await, StatusCode::OK);
    assert_eq!(app.order_status(&paid.order_id).await, "paid");
    assert_eq!(app.count("select count(*) from entitlement").await, 1);
}
