//! Credits: a paid pack adds its credits to the ledger once, the balance shows in the header,
//! an unlock spends once however often its form is sent, two tabs spending at once never take
//! the balance below zero, and a refunded pack takes back its share.

use reqwest::StatusCode;

use crate::helpers::{
    TestApp, browser, buy_as, credit_balance, mail_catcher, spawn, unique_address,
    unlock_with_credits, verified_account,
};

const NOT_ENOUGH: &str =
    "You don't have enough credits for this. Buy a credit pack, or pay for it instead.";

/// Sends the unlock form of `slug` (whose credit price is 400 unless a test changes it).
async fn unlock(
    app: &TestApp,
    shopper: &reqwest::Client,
    slug: &str,
    key: &str,
) -> reqwest::Response {
    unlock_with_credits(app, shopper, slug, 400, key).await
}

/// A verified, signed-in shopper holding one paid 1,000-credit pack.
async fn shopper_with_pack(app: &TestApp) -> reqwest::Client {
    let shopper = verified_account(app, &mail_catcher(), &unique_address("credits")).await;
    buy_as(app, &shopper, "api-credits-1000").await;
    shopper
}

#[tokio::test]
async fn a_paid_pack_adds_its_credits_once_and_the_header_shows_the_balance() {
    let app = spawn().await;
    let shopper = shopper_with_pack(&app).await;

    // The ledger is brought up to date again (as each later settlement or claim does).
    let user: i64 = sqlx::query_scalar("select id from app_user")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    app::credits::settle_packs(&mut conn, user).await.unwrap();
    app::credits::settle_packs(&mut conn, user).await.unwrap();

    assert_eq!(credit_balance(&app, &shopper).await, 1000);
    assert_eq!(app.count("select count(*) from credit_entry").await, 1);
    let home = app.page_as(&shopper, "/").await;
    assert!(
        home.contains(r#"<span class="balance">1,000 credits</span>"#),
        "{home}"
    );
}

#[tokio::test]
async fn credits_unlock_a_product_once_even_when_its_form_is_sent_twice() {
    let app = spawn().await;
    let shopper = shopper_with_pack(&app).await;
    let key = "doubleclickkey0000000000aa";

    let (first, second) = tokio::join!(
        unlock(&app, &shopper, "field-recordings-vol-1", key),
        unlock(&app, &shopper, "field-recordings-vol-1", key)
    );
    assert!(first.status().is_success() || first.status().is_redirection());
    assert!(second.status().is_success() || second.status().is_redirection());
    // Sent again later with a fresh key (a reload): owned already, nothing spent.
    let again = unlock(
        &app,
        &shopper,
        "field-recordings-vol-1",
        "anotherkey0000000000000000",
    )
    .await;
    assert!(again.status().is_success() || again.status().is_redirection());

    assert_eq!(credit_balance(&app, &shopper).await, 600);
    assert_eq!(
        app.count("select count(*) from credit_entry where reason = 'spend'")
            .await,
        1
    );
    let library = app.page_as(&shopper, "/library").await;
    assert!(library.contains("Field Recordings, Vol. 1"), "{library}");
    let order: String =
        sqlx::query_scalar("select public_id from customer_order where credits_spent = 400")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let download = shopper
        .get(format!("{}/library/{order}/download", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn two_tabs_spending_at_once_never_take_the_balance_below_zero() {
    let app = spawn().await;
    sqlx::query(
        "update product set price_credits = 600
         where slug in ('field-recordings-vol-1', 'tokyo-night-presets')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let shopper = shopper_with_pack(&app).await;

    let (a, b) = tokio::join!(
        unlock_with_credits(
            &app,
            &shopper,
            "field-recordings-vol-1",
            600,
            "tabonekey00000000000000000"
        ),
        unlock_with_credits(
            &app,
            &shopper,
            "tokyo-night-presets",
            600,
            "tabtwokey00000000000000000"
        )
    );

    let refused = [a, b]
        .into_iter()
        .filter(|r| r.status() == StatusCode::BAD_REQUEST)
        .count();
    assert_eq!(refused, 1, "exactly one of the two spends must be refused");
    assert_eq!(credit_balance(&app, &shopper).await, 400);
    assert_eq!(
        app.count("select count(*) from customer_order where credits_spent is not null")
            .await,
        1
    );
}

#[tokio::test]
async fn an_unlock_without_enough_credits_is_refused_plainly_and_changes_nothing() {
    let app = spawn().await;
    let shopper = verified_account(&app, &mail_catcher(), &unique_address("broke")).await;

    let resp = unlock(
        &app,
        &shopper,
        "field-recordings-vol-1",
        "brokekey000000000000000000",
    )
    .await;

    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains(NOT_ENOUGH));
    assert_eq!(app.count("select count(*) from customer_order").await, 0);
    assert_eq!(app.count("select count(*) from credit_entry").await, 0);
}

#[tokio::test]
async fn no_unlock_without_a_credit_price_a_sign_in_a_form_key_or_the_price_shown() {
    let app = spawn().await;
    let shopper = shopper_with_pack(&app).await;

    let no_price = unlock(
        &app,
        &shopper,
        "tokyo-night-presets",
        "nopricekey0000000000000000",
    )
    .await;
    let pack = unlock(
        &app,
        &shopper,
        "api-credits-1000",
        "packkey0000000000000000000",
    )
    .await;
    let stranger = unlock(
        &app,
        &browser(),
        "field-recordings-vol-1",
        "strangerkey000000000000000",
    )
    .await;
    let bad_key = unlock(&app, &shopper, "field-recordings-vol-1", "x").await;
    // The price on the page was not the price now.
    let stale = unlock_with_credits(
        &app,
        &shopper,
        "field-recordings-vol-1",
        300,
        "stalekey000000000000000000",
    )
    .await;

    assert_eq!(no_price.status(), StatusCode::BAD_REQUEST);
    assert_eq!(pack.status(), StatusCode::BAD_REQUEST);
    assert_eq!(stranger.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(bad_key.status(), StatusCode::BAD_REQUEST);
    assert_eq!(stale.status(), StatusCode::BAD_REQUEST);
    assert!(
        stale
            .text()
            .await
            .unwrap()
            .contains("credit price of this product has changed")
    );
    assert_eq!(credit_balance(&app, &shopper).await, 1000);
}

#[tokio::test]
async fn a_guest_pack_adds_its_credits_when_its_email_joins_an_account() {
    let app = spawn().await;
    let email = unique_address("guestpack");
    let guest = app.checkout("api-credits-1000").await;
    app.set_email(&guest, &email).await;
    app.pay(&guest, "pm_card_visa").await;
    let succeeded = app.event_payload("payment_intent.succeeded").await;
    assert_eq!(app.deliver_signed(&succeeded).await, StatusCode::OK);
    assert_eq!(app.count("select count(*) from credit_entry").await, 0);

    let shopper = verified_account(&app, &mail_catcher(), &email).await;

    assert_eq!(credit_balance(&app, &shopper).await, 1000);
}

#[tokio::test]
async fn a_refund_of_a_pack_takes_back_its_share_and_never_below_zero() {
    let app = spawn().await;
    let shopper = verified_account(&app, &mail_catcher(), &unique_address("refundpack")).await;
    let pack = buy_as(&app, &shopper, "api-credits-1000").await;
    let spent = unlock(
        &app,
        &shopper,
        "field-recordings-vol-1",
        "spendkey000000000000000000",
    )
    .await;
    assert!(spent.status().is_redirection() || spent.status().is_success());
    assert_eq!(credit_balance(&app, &shopper).await, 600);

    // The seller refunds half the pack's price from the dashboard: half its credits go.
    app.refund(&pack, Some(450)).await;
    let refunded = app.await_event("charge.refunded").await;
    assert_eq!(app.deliver_signed(&refunded).await, StatusCode::OK);
    assert_eq!(credit_balance(&app, &shopper).await, 100);

    // Then the rest: 500 more are due, 100 are left, and the balance stops at zero.
    app.refund(&pack, None).await;
    let all = eventually_newer_refund(&app, &refunded).await;
    assert_eq!(app.deliver_signed(&all).await, StatusCode::OK);
    assert_eq!(credit_balance(&app, &shopper).await, 0);
    assert_eq!(app.order_status(&pack.order_id).await, "refunded");
    // What was unlocked with the pack's credits stays unlocked.
    let library = app.page_as(&shopper, "/library").await;
    assert!(library.contains("Field Recordings, Vol. 1"), "{library}");
}

/// The newest `charge.refunded` other than `seen`.
async fn eventually_newer_refund(app: &TestApp, seen: &str) -> String {
    crate::helpers::eventually("a second charge.refunded", || async {
        app.event_payloads("charge.refunded")
            .await
            .into_iter()
            .find(|p| p != seen)
    })
    .await
}

#[tokio::test]
async fn a_disputed_pack_holds_what_is_left_of_it_and_a_lost_dispute_keeps_it() {
    let app = spawn().await;
    let shopper = verified_account(&app, &mail_catcher(), &unique_address("disputed")).await;
    let pack = buy_as(&app, &shopper, "api-credits-1000").await;
    let spent = unlock(
        &app,
        &shopper,
        "field-recordings-vol-1",
        "beforedisputekey0000000000",
    )
    .await;
    assert!(spent.status().is_redirection() || spent.status().is_success());

    let dispute = crate::disputes::open_dispute(&app, &pack).await;
    let created = app.event_payload("charge.dispute.created").await;
    assert_eq!(app.deliver_signed(&created).await, StatusCode::OK);
    assert_eq!(
        credit_balance(&app, &shopper).await,
        0,
        "held while disputed"
    );
    crate::disputes::decide(&app, &dispute, "losing_evidence").await;
    let closed = app.event_payload("charge.dispute.closed").await;
    assert_eq!(app.deliver_signed(&closed).await, StatusCode::OK);

    assert_eq!(credit_balance(&app, &shopper).await, 0);
    assert_eq!(
        app.count("select count(*) from credit_entry where reason = 'dispute' and delta = -600")
            .await,
        1
    );
}

#[tokio::test]
async fn an_unlock_mails_one_receipt_that_says_what_it_cost_in_credits() {
    let app = spawn().await;
    let catcher = mail_catcher();
    let email = unique_address("unlockmail");
    let shopper = verified_account(&app, &catcher, &email).await;
    buy_as(&app, &shopper, "api-credits-1000").await;
    let spent = unlock(
        &app,
        &shopper,
        "field-recordings-vol-1",
        "mailedkey00000000000000000",
    )
    .await;
    assert!(spent.status().is_redirection() || spent.status().is_success());

    for _ in 0..2 {
        server::mail::send_due(&app.pool, &catcher.mailer(&app.base))
            .await
            .unwrap();
    }

    let receipts: Vec<_> = catcher
        .inbox(&email)
        .await
        .into_iter()
        .filter(|m| m["subject"] == "Your receipt for Field Recordings, Vol. 1")
        .collect();
    assert_eq!(receipts.len(), 1);
    let text = receipts[0]["text"].as_str().unwrap();
    assert!(text.contains("Paid: 400 credits"), "{text}");
}

#[tokio::test]
async fn a_won_dispute_gives_a_packs_held_credits_back() {
    let app = spawn().await;
    let shopper = verified_account(&app, &mail_catcher(), &unique_address("won")).await;
    let pack = buy_as(&app, &shopper, "api-credits-1000").await;
    let spent = unlock(
        &app,
        &shopper,
        "field-recordings-vol-1",
        "beforewinkey00000000000000",
    )
    .await;
    assert!(spent.status().is_redirection() || spent.status().is_success());

    let dispute = crate::disputes::open_dispute(&app, &pack).await;
    let created = app.event_payload("charge.dispute.created").await;
    assert_eq!(app.deliver_signed(&created).await, StatusCode::OK);
    assert_eq!(credit_balance(&app, &shopper).await, 0);
    crate::disputes::decide(&app, &dispute, "winning_evidence").await;
    let closed = app.event_payload("charge.dispute.closed").await;
    assert_eq!(app.deliver_signed(&closed).await, StatusCode::OK);
    // Delivered twice: given back once.
    assert_eq!(app.deliver_signed(&closed).await, StatusCode::OK);

    assert_eq!(credit_balance(&app, &shopper).await, 600);
}
