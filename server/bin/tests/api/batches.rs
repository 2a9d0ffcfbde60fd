//! Payment events settled together (`inbox::settle_as_batch`, what the settlers run on the
//! deliveries waiting for them): one transaction settles every event of a batch once, copies
//! in the batch are answered as later deliveries, and an event ahead of its order is kept for
//! later without holding up the others. That a batch was one transaction shows in its events'
//! `handled_at`: `now()` is the time its transaction began.

use app::inbox::{HandleError, Handled, settle_as_batch};

use crate::helpers::{
    Session, TestApp, call, credit_balance, mail_catcher, spawn, unique_address, verified_account,
};

/// Three orders of three products, each paid at the stand-in (whose events are not delivered),
/// with each one's `payment_intent.succeeded`.
async fn three_paid_at_stripe(app: &TestApp) -> Vec<(Session, String)> {
    let mut paid = Vec::new();
    for slug in [
        "field-recordings-vol-1",
        "tokyo-night-presets",
        "api-credits-1000",
    ] {
        let session = app.checkout(slug).await;
        app.pay(&session, "pm_card_visa").await;
        let payload = app.event_payload("payment_intent.succeeded").await;
        assert!(payload.contains(&TestApp::intent_id(&session)));
        paid.push((session, payload));
    }
    paid
}

/// The three orders of [`three_paid_at_stripe`] fulfilled once each: one grant and one receipt
/// apiece, and each event claimed at its first attempt.
async fn assert_three_fulfilled_once(app: &TestApp) {
    assert_eq!(app.count("select count(*) from entitlement").await, 3);
    assert_eq!(
        app.count("select count(*) from outbound_email where kind = 'receipt'")
            .await,
        3
    );
    assert_eq!(
        app.count(
            "select count(*) from stripe_event where handled_at is not null and attempts = 1"
        )
        .await,
        3,
        "each event claimed once"
    );
}

fn outcomes(answers: Vec<Result<Handled, HandleError>>) -> Vec<Result<Handled, String>> {
    answers
        .into_iter()
        .map(|a| a.map_err(|e| format!("{e:?}")))
        .collect()
}

#[tokio::test]
async fn a_batch_of_payments_fulfils_each_order_once_and_a_copy_in_it_is_answered_as_handled() {
    let app = spawn().await;
    let paid = three_paid_at_stripe(&app).await;
    let payloads = [
        paid[0].1.as_str(),
        paid[1].1.as_str(),
        paid[1].1.as_str(),
        paid[2].1.as_str(),
    ];

    let first = outcomes(settle_as_batch(&app.state, &payloads).await);
    let again = outcomes(settle_as_batch(&app.state, &payloads).await);

    // The two copies of one event: one settles it, the other hears it was handled.
    let mut copies = [first[1].clone(), first[2].clone()];
    copies.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(copies, [Ok(Handled::Before), Ok(Handled::Now)]);
    assert_eq!([&first[0], &first[3]], [&Ok(Handled::Now); 2]);
    assert_eq!(again, vec![Ok(Handled::Before); 4]);
    for (session, _) in &paid {
        assert_eq!(app.order_status(&session.order_id).await, "paid");
    }
    assert_three_fulfilled_once(&app).await;
    assert_eq!(
        app.count("select count(distinct handled_at) from stripe_event")
            .await,
        1,
        "all claimed in one transaction"
    );
}

#[tokio::test]
async fn an_event_ahead_of_its_order_in_a_batch_is_kept_for_later_and_the_others_are_settled() {
    let app = spawn().await;
    let paid = three_paid_at_stripe(&app).await;
    // The second order as if its transaction had not committed yet: not found by its intent,
    // nor by the id its payment names.
    let hidden = &paid[1].0.order_id;
    sqlx::query(
        "update customer_order set payment_intent_id = null, public_id = 'ord_hidden'
         where public_id = $1",
    )
    .bind(hidden)
    .execute(&app.pool)
    .await
    .unwrap();
    let payloads: Vec<&str> = paid.iter().map(|(_, p)| p.as_str()).collect();

    let answers = settle_as_batch(&app.state, &payloads).await;

    assert!(matches!(answers[0], Ok(Handled::Now)), "{answers:?}");
    assert!(
        matches!(answers[1], Err(HandleError::NotYet(_))),
        "{answers:?}"
    );
    assert!(matches!(answers[2], Ok(Handled::Now)), "{answers:?}");
    assert_eq!(app.order_status(&paid[0].0.order_id).await, "paid");
    assert_eq!(app.order_status(&paid[2].0.order_id).await, "paid");
    assert_eq!(app.order_status("ord_hidden").await, "pending");
    assert_eq!(
        app.count(
            "select count(*) from stripe_event
             where handled_at is null and last_error = 'order not visible yet'"
        )
        .await,
        1,
        "kept, with why, for the next delivery or a replay"
    );

    // Once the order is visible, Stripe's retry settles it.
    sqlx::query("update customer_order set public_id = $1 where public_id = 'ord_hidden'")
        .bind(hidden)
        .execute(&app.pool)
        .await
        .unwrap();
    let retry = outcomes(settle_as_batch(&app.state, &payloads[1..2]).await);
    assert_eq!(retry, [Ok(Handled::Now)]);
    assert_eq!(app.order_status(hidden).await, "paid");
    assert_eq!(app.count("select count(*) from entitlement").await, 3);
}

#[tokio::test]
async fn two_events_about_one_payment_in_a_batch_leave_it_paid_and_fulfilled_once() {
    let app = spawn().await;
    // The stand-in reports the payment processing first, then succeeded.
    app.standin_post("config", serde_json::json!({ "processing_ms": 50 }))
        .await;
    let session = app.checkout("field-recordings-vol-1").await;
    app.pay(&session, "pm_card_visa").await;
    let succeeded = app.await_event("payment_intent.succeeded").await;
    let processing = app.event_payload("payment_intent.processing").await;

    // A batch settles its events in the order of their ids, not of when they happened.
    let answers = outcomes(settle_as_batch(&app.state, &[&processing, &succeeded]).await);

    assert_eq!(answers, [Ok(Handled::Now), Ok(Handled::Now)]);
    assert_eq!(
        app.count("select count(distinct handled_at) from stripe_event")
            .await,
        1,
        "both settled in one transaction"
    );
    assert_eq!(app.order_status(&session.order_id).await, "paid");
    assert_eq!(app.count("select count(*) from entitlement").await, 1);
    assert_eq!(
        app.count("select count(*) from outbound_email where kind = 'receipt'")
            .await,
        1
    );
}

#[tokio::test]
async fn credit_packs_of_two_accounts_paid_in_one_batch_add_each_ones_credits_once() {
    let app = spawn().await;
    let catcher = mail_catcher();
    let mut shoppers = Vec::new();
    let mut payloads = Vec::new();
    for who in ["batch-pack-a", "batch-pack-b"] {
        let shopper = verified_account(&app, &catcher, &unique_address(who)).await;
        let resp = call(
            &app,
            &shopper,
            "start_checkout",
            &[("slug", "api-credits-1000")],
        )
        .await;
        let session: Session = resp.json().await.unwrap();
        app.pay(&session, "pm_card_visa").await;
        payloads.push(app.event_payload("payment_intent.succeeded").await);
        shoppers.push(shopper);
    }
    let payloads: Vec<&str> = payloads.iter().map(String::as_str).collect();

    let answers = outcomes(settle_as_batch(&app.state, &payloads).await);
    let again = outcomes(settle_as_batch(&app.state, &payloads).await);

    assert_eq!(answers, [Ok(Handled::Now), Ok(Handled::Now)]);
    assert_eq!(again, [Ok(Handled::Before), Ok(Handled::Before)]);
    assert_eq!(
        app.count("select count(distinct handled_at) from stripe_event")
            .await,
        1,
        "both settled in one transaction"
    );
    for shopper in &shoppers {
        assert_eq!(credit_balance(&app, shopper).await, 1000);
    }
    assert_eq!(app.count("select count(*) from credit_entry").await, 2);
}

#[tokio::test]
async fn an_order_someone_else_holds_locked_keeps_back_only_its_own_event() {
    let app = spawn().await;
    let paid = three_paid_at_stripe(&app).await;
    // A person's transaction (or a stuck connection) holds the first order.
    let mut holder = app.pool.begin().await.unwrap();
    sqlx::query("select id from customer_order where public_id = $1 for update")
        .bind(&paid[0].0.order_id)
        .execute(&mut *holder)
        .await
        .unwrap();
    let payloads: Vec<&str> = paid.iter().map(|(_, p)| p.as_str()).collect();

    // The batch gives up waiting for that lock (2 s) and settles its events one by one: the
    // held order's event fails the same way and is kept, unhandled, for Stripe's retry.
    let answers = settle_as_batch(&app.state, &payloads).await;

    assert!(
        matches!(answers[0], Err(HandleError::Database(_))),
        "{answers:?}"
    );
    assert!(
        matches!(answers[1..], [Ok(Handled::Now), Ok(Handled::Now)]),
        "{answers:?}"
    );
    assert_eq!(app.order_status(&paid[0].0.order_id).await, "pending");
    assert_eq!(app.order_status(&paid[1].0.order_id).await, "paid");
    assert_eq!(app.order_status(&paid[2].0.order_id).await, "paid");
    assert_eq!(
        app.count(
            "select count(*) from stripe_event
             where handled_at is null and last_error like '%lock timeout%'"
        )
        .await,
        1
    );

    holder.rollback().await.unwrap();
    assert_eq!(
        outcomes(settle_as_batch(&app.state, &payloads[..1]).await),
        [Ok(Handled::Now)]
    );
    assert_eq!(app.order_status(&paid[0].0.order_id).await, "paid");
    assert_eq!(app.count("select count(*) from entitlement").await, 3);
}

/// The settlers' own connections to the test's database (`storefront-settler`), once both
/// are open and at rest (past their first statements): each one's backend and the last
/// statement it ran.
async fn settlers_connections(app: &TestApp) -> Vec<(i32, String)> {
    for _ in 0..200 {
        let open: Vec<(i32, String)> = sqlx::query_as(
            "select pid, query from pg_stat_activity
             where application_name = 'storefront-settler' and datname = current_database()
               and state = 'idle' and query <> ''
             order by pid",
        )
        .fetch_all(&app.pool)
        .await
        .unwrap();
        if open.len() == 2 {
            return open;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the settlers' two connections did not open");
}

#[tokio::test]
async fn the_settlers_open_their_connections_ready_and_open_new_ones_when_those_die() {
    let app = spawn().await;
    let paid = three_paid_at_stripe(&app).await;

    // Opened at start, each readied by a transaction it rolled back.
    let first = settlers_connections(&app).await;
    assert_eq!(
        first.iter().map(|(_, q)| q.as_str()).collect::<Vec<_>>(),
        ["ROLLBACK", "ROLLBACK"]
    );
    let killed: Vec<i32> = first.iter().map(|(pid, _)| *pid).collect();
    sqlx::query("select pg_terminate_backend(pid) from unnest($1::int4[]) pid")
        .bind(&killed)
        .execute(&app.pool)
        .await
        .unwrap();

    // Each of the next two batches takes a dead connection (the pool hands out its idle ones
    // oldest first), fails, and its delivery is settled on its own.
    for (session, payload) in &paid[..2] {
        assert_eq!(app.deliver_signed(payload).await, 200);
        assert_eq!(app.order_status(&session.order_id).await, "paid");
    }
    // New connections take the dead ones' place, readied as the first were.
    let reopened = settlers_connections(&app).await;
    assert!(reopened.iter().all(|(pid, _)| !killed.contains(pid)));
    assert!(
        reopened.iter().all(|(_, q)| q == "ROLLBACK"),
        "{reopened:?}"
    );
    assert_eq!(app.deliver_signed(&paid[2].1).await, 200);
    assert_eq!(app.order_status(&paid[2].0.order_id).await, "paid");

    assert_three_fulfilled_once(&app).await;
}
