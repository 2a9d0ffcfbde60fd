//! Refunds a shopper asks for from their receipt: within the window, once however often the
//! button is pressed, for the unspent part of a pack only, never for an amount that changed
//! since the page showed it, never for someone else's order, and sent again with care when
//! Stripe's answer was lost.

use reqwest::StatusCode;

use crate::helpers::{
    Session, TestApp, browser, buy_as, call, credit_balance, mail_catcher, spawn, unique_address,
    unlock_with_credits, verified_account,
};

const WINDOW_PASSED: &str = "The time to ask for a refund of this order has passed.";
const CHANGED: &str =
    "The amount you can get back has changed. Please look at it again before confirming.";

async fn request_refund(
    app: &TestApp,
    shopper: &reqwest::Client,
    order: &str,
    amount: i64,
) -> reqwest::Response {
    call(
        app,
        shopper,
        "request_refund",
        &[("order_id", order), ("amount_minor", &amount.to_string())],
    )
    .await
}

/// The refunds Stripe holds for an order's payment.
async fn stripe_refunds(app: &TestApp, session: &Session) -> Vec<stripe_core::Refund> {
    stripe_core::refund::ListRefund::new()
        .payment_intent(TestApp::intent_id(session))
        .send(&app.stripe)
        .await
        .unwrap()
        .data
}

async fn shopper(app: &TestApp, who: &str) -> reqwest::Client {
    verified_account(app, &mail_catcher(), &unique_address(who)).await
}

/// A shopper who bought a 1,000-credit pack for €9.00 and spent 400 of its credits on an
/// unlock.
async fn pack_with_400_spent(app: &TestApp, who: &str) -> (reqwest::Client, Session) {
    let owner = shopper(app, who).await;
    let pack = buy_as(app, &owner, "api-credits-1000").await;
    let key = format!("{who}spendkey0000000000000");
    let spent = unlock_with_credits(app, &owner, "field-recordings-vol-1", 400, &key).await;
    assert!(spent.status().is_redirection() || spent.status().is_success());
    (owner, pack)
}

#[tokio::test]
async fn a_shopper_refunds_a_file_from_the_receipt_and_it_leaves_the_library() {
    let app = spawn().await;
    let owner = shopper(&app, "refundfile").await;
    let order = buy_as(&app, &owner, "field-recordings-vol-1").await;
    let receipt = app
        .page_as(&owner, &format!("/account/orders/{}", order.order_id))
        .await;
    assert!(receipt.contains("Request a refund of $12.00"), "{receipt}");

    let resp = request_refund(&app, &owner, &order.order_id, 1200).await;

    assert!(resp.status().is_redirection() || resp.status().is_success());
    // Settled from Stripe's answer, before any webhook.
    assert_eq!(app.order_status(&order.order_id).await, "refunded");
    let refunds = stripe_refunds(&app, &order).await;
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].amount, 1200);
    let calls = app.stripe_calls().await;
    let writes: Vec<_> = calls
        .iter()
        .filter(|c| c["path"] == "/v1/refunds" && c["method"] == "POST")
        .collect();
    assert_eq!(writes.len(), 1, "{calls:#?}");
    let key = writes[0]["idempotency_key"].as_str().unwrap_or_default();
    assert!(
        key.starts_with(&format!("order-{}-refund-", order.order_id)),
        "the refund carries the request's key: {key}"
    );
    let library = app.page_as(&owner, "/library").await;
    assert!(!library.contains("Field Recordings, Vol. 1"), "{library}");
    let download = owner
        .get(format!("{}/library/{}/download", app.base, order.order_id))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::NOT_FOUND);
    let after = app
        .page_as(&owner, &format!("/account/orders/{}", order.order_id))
        .await;
    assert!(after.contains("This order was refunded."), "{after}");
}

#[tokio::test]
async fn a_double_click_on_refund_refunds_once() {
    let app = spawn().await;
    let owner = shopper(&app, "doublerefund").await;
    let order = buy_as(&app, &owner, "field-recordings-vol-1").await;

    let (a, b) = tokio::join!(
        request_refund(&app, &owner, &order.order_id, 1200),
        request_refund(&app, &owner, &order.order_id, 1200)
    );

    // A third, after both came back, finds the refund they made.
    let c = request_refund(&app, &owner, &order.order_id, 1200).await;

    // Every click gets the receipt back ("refunded", or "on its way"), and one refund is made.
    for click in [a, b, c] {
        assert!(
            click.status().is_redirection() || click.status().is_success(),
            "{:?}",
            click.status()
        );
    }

    let refunds = stripe_refunds(&app, &order).await;
    assert_eq!(refunds.len(), 1, "{refunds:#?}");
    assert_eq!(app.order_status(&order.order_id).await, "refunded");
    assert_eq!(
        app.count("select count(*) from refund_request where status = 'succeeded'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_partly_spent_pack_refunds_only_its_unspent_credits_and_says_so_first() {
    let app = spawn().await;
    let (owner, pack) = pack_with_400_spent(&app, "packrefund").await;

    let receipt = app
        .page_as(&owner, &format!("/account/orders/{}", pack.order_id))
        .await;
    assert!(
        receipt.contains("You have used 400 of this pack&#x27;s 1,000 credits")
            || receipt.contains("You have used 400 of this pack's 1,000 credits"),
        "{receipt}"
    );
    assert!(receipt.contains("Request a refund of €5.40"), "{receipt}");

    let resp = request_refund(&app, &owner, &pack.order_id, 540).await;
    assert!(resp.status().is_redirection() || resp.status().is_success());
    // Stripe's own `charge.refunded` arrives too, and takes nothing more.
    let refunded = app.await_event("charge.refunded").await;
    assert_eq!(app.deliver_signed(&refunded).await, StatusCode::OK);

    assert_eq!(credit_balance(&app, &owner).await, 0);
    assert_eq!(app.order_status(&pack.order_id).await, "partially_refunded");
    let refunds = stripe_refunds(&app, &pack).await;
    assert_eq!(
        refunds.iter().map(|r| r.amount).collect::<Vec<_>>(),
        vec![540]
    );
    let library = app.page_as(&owner, "/library").await;
    assert!(library.contains("Field Recordings, Vol. 1"), "{library}");
}

#[tokio::test]
async fn a_refund_for_an_amount_that_changed_since_the_page_is_refused_and_changes_nothing() {
    let app = spawn().await;
    // The receipt offered €9.00; another tab then spends 400 credits.
    let (owner, pack) = pack_with_400_spent(&app, "stalerefund").await;

    let resp = request_refund(&app, &owner, &pack.order_id, 900).await;

    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains(CHANGED));
    assert!(stripe_refunds(&app, &pack).await.is_empty());
    assert_eq!(credit_balance(&app, &owner).await, 600);
    assert_eq!(app.count("select count(*) from refund_request").await, 0);
}

#[tokio::test]
async fn no_refund_is_offered_or_made_after_the_window() {
    let app = spawn().await;
    let owner = shopper(&app, "laterefund").await;
    let order = buy_as(&app, &owner, "field-recordings-vol-1").await;
    sqlx::query(
        "update customer_order set paid_at = now() - interval '15 days' where public_id = $1",
    )
    .bind(&order.order_id)
    .execute(&app.pool)
    .await
    .unwrap();

    let receipt = app
        .page_as(&owner, &format!("/account/orders/{}", order.order_id))
        .await;
    let resp = request_refund(&app, &owner, &order.order_id, 1200).await;

    assert!(receipt.contains(WINDOW_PASSED), "{receipt}");
    assert!(!receipt.contains("Request a refund"), "{receipt}");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains(WINDOW_PASSED));
    assert!(stripe_refunds(&app, &order).await.is_empty());
    assert_eq!(app.order_status(&order.order_id).await, "paid");
}

#[tokio::test]
async fn another_shoppers_order_can_be_neither_read_nor_refunded() {
    let app = spawn().await;
    let owner = shopper(&app, "victim").await;
    let other = shopper(&app, "other").await;
    let order = buy_as(&app, &owner, "field-recordings-vol-1").await;

    let read = call(&app, &other, "my_receipt", &[("order_id", &order.order_id)]).await;
    let refund = request_refund(&app, &other, &order.order_id, 1200).await;
    let guest_read = call(
        &app,
        &browser(),
        "my_receipt",
        &[("order_id", &order.order_id)],
    )
    .await;
    let guest_refund = request_refund(&app, &browser(), &order.order_id, 1200).await;
    let page = app
        .page_as(&other, &format!("/account/orders/{}", order.order_id))
        .await;

    assert_eq!(read.status(), StatusCode::NOT_FOUND);
    assert_eq!(refund.status(), StatusCode::NOT_FOUND);
    assert_eq!(guest_read.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(guest_refund.status(), StatusCode::UNAUTHORIZED);
    assert!(!page.contains("Request a refund"), "{page}");
    assert!(stripe_refunds(&app, &order).await.is_empty());
    assert_eq!(app.order_status(&order.order_id).await, "paid");
}

#[tokio::test]
async fn a_refund_stripe_failed_to_make_is_sent_again_later_under_a_new_key() {
    let app = spawn().await;
    let owner = shopper(&app, "lostrefund").await;
    let order = buy_as(&app, &owner, "field-recordings-vol-1").await;
    // Stripe fails while it runs the refund (a 500, kept under the key).
    app.standin_post(
        "faults",
        serde_json::json!({ "method": "POST", "path": "/v1/refunds", "times": 1 }),
    )
    .await;

    let resp = request_refund(&app, &owner, &order.order_id, 1200).await;
    assert!(resp.status().is_redirection() || resp.status().is_success());
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    assert!(
        location
            .as_deref()
            .is_some_and(|l| l.ends_with("?refund=pending")),
        "{location:?}"
    );
    assert_eq!(app.order_status(&order.order_id).await, "paid");
    let receipt = app
        .page_as(&owner, &format!("/account/orders/{}", order.order_id))
        .await;
    assert!(receipt.contains("Your refund is on its way."), "{receipt}");

    let sent = housekeeping_sends_pending(&app).await;

    assert_eq!(sent, 1);
    assert_eq!(app.order_status(&order.order_id).await, "refunded");
    assert_eq!(stripe_refunds(&app, &order).await.len(), 1);
    // The first key holds Stripe's 500 for a day: the retry used the next one.
    let keys: Vec<String> = app
        .stripe_calls()
        .await
        .iter()
        .filter(|c| c["path"] == "/v1/refunds" && c["method"] == "POST")
        .map(|c| {
            c["idempotency_key"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_ne!(keys[0], keys[1]);
}

/// Sends the housekeeping pass's refunds as if a minute had gone by.
async fn housekeeping_sends_pending(app: &TestApp) -> usize {
    sqlx::query("update refund_request set updated_at = now() - interval '2 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    app::refunds::send_pending(&app.pool, &app.stripe)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_refund_made_but_whose_answer_was_lost_is_found_not_made_again() {
    let app = spawn().await;
    let owner = shopper(&app, "lostanswer").await;
    let order = buy_as(&app, &owner, "field-recordings-vol-1").await;
    // Stripe makes the refund, then fails to answer.
    app.standin_post(
        "faults",
        serde_json::json!({ "method": "POST", "path": "/v1/refunds", "times": 1, "after": true }),
    )
    .await;

    let resp = request_refund(&app, &owner, &order.order_id, 1200).await;
    assert!(resp.status().is_redirection() || resp.status().is_success());
    assert_eq!(stripe_refunds(&app, &order).await.len(), 1);
    assert_eq!(app.order_status(&order.order_id).await, "paid");

    assert_eq!(housekeeping_sends_pending(&app).await, 1);

    assert_eq!(
        stripe_refunds(&app, &order).await.len(),
        1,
        "refunded twice"
    );
    assert_eq!(app.order_status(&order.order_id).await, "refunded");
    let writes = app
        .stripe_calls()
        .await
        .iter()
        .filter(|c| c["path"] == "/v1/refunds" && c["method"] == "POST")
        .count();
    assert_eq!(writes, 1, "the retry looked before it wrote");
}

#[tokio::test]
async fn a_refused_refund_gives_back_its_credits_less_what_a_refund_elsewhere_took() {
    let app = spawn().await;
    let (owner, pack) = pack_with_400_spent(&app, "refused").await;
    // The shopper's request of 5.40 EUR for 600 credits gets no answer...
    app.standin_post(
        "faults",
        serde_json::json!({ "method": "POST", "path": "/v1/refunds", "times": 1 }),
    )
    .await;
    let resp = request_refund(&app, &owner, &pack.order_id, 540).await;
    assert!(resp.status().is_redirection() || resp.status().is_success());
    assert_eq!(
        credit_balance(&app, &owner).await,
        0,
        "the 600 are held while Stripe answers"
    );
    // ...the shopper buys a second pack, and the seller refunds the whole of the first one
    // from the dashboard: of its 1,000 credits, the 400 not held yet are taken back.
    buy_as(&app, &owner, "api-credits-1000").await;
    app.refund(&pack, None).await;
    let refunded = app.await_event("charge.refunded").await;
    assert_eq!(app.deliver_signed(&refunded).await, StatusCode::OK);
    assert_eq!(credit_balance(&app, &owner).await, 600);

    // The retry is refused (nothing is left to refund): the request fails, and the 600 it held
    // go back, only to be taken again as the full refund's share.
    housekeeping_sends_pending(&app).await;

    assert_eq!(
        app.count("select count(*) from refund_request where status = 'failed'")
            .await,
        1
    );
    assert_eq!(
        app.count("select count(*) from credit_entry where reason = 'restore' and delta = 600")
            .await,
        1
    );
    // 2,000 bought, 400 spent, the refunded pack's 1,000 gone.
    assert_eq!(credit_balance(&app, &owner).await, 600);
    assert_eq!(app.order_status(&pack.order_id).await, "refunded");
    assert_eq!(stripe_refunds(&app, &pack).await.len(), 1);
}
