//! Accounts through the server functions and the SMTP catcher: sign-up and the verification
//! link, sign-in that answers alike for an unknown email and a wrong password, guest orders
//! joining the account that verifies their email, one-time reset links, what one shopper can
//! see of another's, and the rate limit on attempts.

use reqwest::StatusCode;
use server::mail;

use crate::helpers::{
    PASSWORD, TestApp, browser, call, link_token, mail_catcher, spawn, unique_address,
    verified_account,
};

/// Who the browser is signed in as, per the server.
async fn signed_in_as(app: &TestApp, browser: &reqwest::Client) -> Option<String> {
    let resp = call(app, browser, "current_account", &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let account: Option<serde_json::Value> = resp.json().await.unwrap();
    account.map(|a| a["email"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn an_email_registered_by_someone_else_first_stays_its_owners() {
    let app = spawn().await;
    let catcher = mail_catcher();
    let victim = unique_address("victim");
    // Someone registers the victim's address first, with a password of their own.
    let attacker = browser();
    call(
        &app,
        &attacker,
        "sign_up",
        &[("email", &victim), ("password", "the attacker's own")],
    )
    .await;
    let planted = link_token(&app, &catcher, &victim, "Verify your email").await;
    // The victim, reading that mail, cannot verify the account without its password...
    let owner = browser();
    let refused = call(
        &app,
        &owner,
        "verify_email",
        &[("token", &planted), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    // ...and signing up themselves replaces that password and its link.
    call(
        &app,
        &owner,
        "sign_up",
        &[("email", &victim), ("password", PASSWORD)],
    )
    .await;
    let theirs = link_token(&app, &catcher, &victim, "Verify your email").await;
    assert_ne!(theirs, planted);
    let used = call(
        &app,
        &owner,
        "verify_email",
        &[("token", &theirs), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(
        used.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/account")
    );

    let stale = call(
        &app,
        &browser(),
        "verify_email",
        &[("token", &planted), ("password", "the attacker's own")],
    )
    .await;
    assert_eq!(stale.status(), StatusCode::BAD_REQUEST);
    let sign_in = call(
        &app,
        &attacker,
        "sign_in",
        &[("email", &victim), ("password", "the attacker's own")],
    )
    .await;
    assert_eq!(sign_in.status(), StatusCode::BAD_REQUEST);
    assert_eq!(signed_in_as(&app, &attacker).await, None);
    assert_eq!(signed_in_as(&app, &owner).await, Some(victim));
}

#[tokio::test]
async fn a_new_account_signs_in_only_after_its_email_link_is_used() {
    let app = spawn().await;
    let catcher = mail_catcher();
    let email = unique_address("signup");
    let shopper = browser();

    let resp = call(
        &app,
        &shopper,
        "sign_up",
        &[("email", &email), ("password", PASSWORD)],
    )
    .await;

    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(signed_in_as(&app, &shopper).await, None);
    let stored: String = sqlx::query_scalar("select password_hash from app_user")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(!stored.contains(PASSWORD));

    // Not before the email is verified.
    let early = call(
        &app,
        &shopper,
        "sign_in",
        &[("email", &email), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(early.status(), StatusCode::BAD_REQUEST);
    assert!(
        early
            .text()
            .await
            .unwrap()
            .contains("verify your email first")
    );
    assert_eq!(signed_in_as(&app, &shopper).await, None);

    let token = link_token(&app, &catcher, &email, "Verify your email").await;
    // The link's page does not load a third-party script that could read its URL.
    let page = app
        .page_as(&shopper, &format!("/verify-email?token={token}"))
        .await;
    assert!(page.contains("Verify my email"), "{page}");
    assert!(
        !page.contains("/v3/"),
        "Stripe.js on the link's page: {page}"
    );
    // The link alone is not enough: the password chosen at sign-up goes with it.
    let wrong = call(
        &app,
        &shopper,
        "verify_email",
        &[("token", &token), ("password", "not the one")],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let resp = call(
        &app,
        &shopper,
        "verify_email",
        &[("token", &token), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(
        resp.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/account")
    );
    assert_eq!(signed_in_as(&app, &shopper).await, Some(email.clone()));
    // The link works once.
    let again = call(
        &app,
        &browser(),
        "verify_email",
        &[("token", &token), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    // The token was kept only until its mail went out.
    assert_eq!(
        app.count("select count(*) from outbound_email where token is not null")
            .await,
        0
    );
}

#[tokio::test]
async fn sign_in_answers_alike_for_an_unknown_email_and_a_wrong_password() {
    let app = spawn().await;
    let catcher = mail_catcher();
    let email = unique_address("signin");
    verified_account(&app, &catcher, &email).await;
    let stranger = browser();

    let wrong = call(
        &app,
        &stranger,
        "sign_in",
        &[("email", &email), ("password", "not it at all")],
    )
    .await;
    let (wrong_status, wrong_body) = (wrong.status(), wrong.text().await.unwrap());
    let unknown = call(
        &app,
        &stranger,
        "sign_in",
        &[
            ("email", &unique_address("nobody")),
            ("password", "not it at all"),
        ],
    )
    .await;
    let (unknown_status, unknown_body) = (unknown.status(), unknown.text().await.unwrap());

    assert_eq!(wrong_status, StatusCode::BAD_REQUEST);
    assert_eq!((wrong_status, &wrong_body), (unknown_status, &unknown_body));
    assert!(
        wrong_body.contains("do not match an account"),
        "{wrong_body}"
    );
    assert_eq!(signed_in_as(&app, &stranger).await, None);

    let right = call(
        &app,
        &stranger,
        "sign_in",
        &[("email", &email.to_uppercase()), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(
        right
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/account")
    );
    assert_eq!(signed_in_as(&app, &stranger).await, Some(email));
}

#[tokio::test]
async fn signing_up_with_a_taken_email_answers_the_same_and_tells_its_owner() {
    let app = spawn().await;
    let catcher = mail_catcher();
    let email = unique_address("taken");
    verified_account(&app, &catcher, &email).await;

    let resp = call(
        &app,
        &browser(),
        "sign_up",
        &[("email", &email), ("password", "another password")],
    )
    .await;

    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(app.count("select count(*) from app_user").await, 1);
    mail::send_due(&app.pool, &catcher.mailer(&app.base))
        .await
        .unwrap();
    let subjects: Vec<String> = catcher
        .inbox(&email)
        .await
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        subjects,
        ["Verify your email", "You already have an account"]
    );
    // The first password still signs in; the second does not.
    let shopper = browser();
    let resp = call(
        &app,
        &shopper,
        "sign_in",
        &[("email", &email), ("password", "another password")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_guest_order_joins_the_account_that_verifies_its_email_and_no_one_else_sees_it() {
    let app = spawn().await;
    let catcher = mail_catcher();
    let email = unique_address("guest");
    // Bought as a guest with this email, before any account existed.
    let order = app.checkout("field-recordings-vol-1").await;
    app.set_email(&order, &email.to_uppercase()).await;
    app.pay(&order, "pm_card_visa").await;
    let succeeded = app.event_payload("payment_intent.succeeded").await;
    assert_eq!(app.deliver_signed(&succeeded).await, StatusCode::OK);

    let owner = verified_account(&app, &catcher, &email).await;
    let other = verified_account(&app, &catcher, &unique_address("other")).await;

    let mine: Vec<serde_json::Value> = call(&app, &owner, "my_orders", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.len(), 1, "{mine:#?}");
    assert_eq!(mine[0]["id"], order.order_id);
    assert_eq!(mine[0]["product_title"], "Field Recordings, Vol. 1");
    let theirs: Vec<serde_json::Value> = call(&app, &other, "my_orders", &[])
        .await
        .json()
        .await
        .unwrap();
    assert!(theirs.is_empty(), "{theirs:#?}");
    let nobody = call(&app, &browser(), "my_orders", &[]).await;
    assert_eq!(nobody.status(), StatusCode::UNAUTHORIZED);
    // The account page lists it for its owner only.
    let page = app.page_as(&owner, "/account").await;
    assert!(
        page.contains(&format!("/orders/{}", order.order_id)),
        "{page}"
    );
    let page = app.page_as(&other, "/account").await;
    assert!(!page.contains(&order.order_id), "{page}");
}

#[tokio::test]
async fn a_reset_link_works_once_signs_out_every_session_and_signs_in_no_one() {
    let app = spawn().await;
    let catcher = mail_catcher();
    let email = unique_address("reset");
    let old_session = verified_account(&app, &catcher, &email).await;
    assert_eq!(signed_in_as(&app, &old_session).await, Some(email.clone()));

    let asked = call(
        &app,
        &browser(),
        "request_password_reset",
        &[("email", &email)],
    )
    .await;
    let unknown = call(
        &app,
        &browser(),
        "request_password_reset",
        &[("email", &unique_address("nobody"))],
    )
    .await;
    assert_eq!(asked.status(), StatusCode::OK);
    assert_eq!(unknown.status(), StatusCode::OK);
    let token = link_token(&app, &catcher, &email, "Reset your password").await;
    let new_password = "an entirely new passphrase";
    let shopper = browser();
    let resp = call(
        &app,
        &shopper,
        "reset_password",
        &[("token", &token), ("password", new_password)],
    )
    .await;
    assert_eq!(
        resp.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/sign-in?reset=1")
    );

    // The link's browser is not signed in: a forwarded link must not put its opener into the
    // sender's account.
    assert_eq!(signed_in_as(&app, &shopper).await, None);
    assert_eq!(
        signed_in_as(&app, &old_session).await,
        None,
        "the old session is signed out"
    );
    let reused = call(
        &app,
        &browser(),
        "reset_password",
        &[("token", &token), ("password", "yet another one!")],
    )
    .await;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    let old = call(
        &app,
        &browser(),
        "sign_in",
        &[("email", &email), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(old.status(), StatusCode::BAD_REQUEST);
    let new = call(
        &app,
        &browser(),
        "sign_in",
        &[("email", &email), ("password", new_password)],
    )
    .await;
    assert_eq!(new.status(), StatusCode::OK);
    assert_eq!(
        new.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/account")
    );
}

#[tokio::test]
async fn guessing_passwords_is_stopped_with_429_and_a_plain_message() {
    // Three attempts a minute: the allowance refills every 20 s, far longer than this takes.
    let app = crate::helpers::spawn_with_env(
        Some(crate::helpers::WEBHOOK_SECRET),
        &[("ACCOUNT_ATTEMPTS_PER_MINUTE", "3")],
    )
    .await;
    let email = unique_address("guessed");
    let mut statuses = Vec::new();
    for n in 0..8 {
        let guess = format!("guess number {n}");
        let resp = call(
            &app,
            &browser(),
            "sign_in",
            &[("email", &email), ("password", &guess)],
        )
        .await;
        statuses.push(resp.status());
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(
                resp.json::<serde_json::Value>().await.unwrap(),
                serde_json::json!("TooManyRequests")
            );
        }
    }
    let mut expected = vec![StatusCode::BAD_REQUEST; 3];
    expected.extend([StatusCode::TOO_MANY_REQUESTS; 5]);
    assert_eq!(statuses, expected);
}

#[tokio::test]
async fn a_short_password_or_a_bad_email_is_refused_and_makes_no_account() {
    let app = spawn().await;
    for (email, password, says) in [
        (
            unique_address("short"),
            "too short",
            "at least 10 characters",
        ),
        ("not an email".to_string(), PASSWORD, "valid email"),
    ] {
        let resp = call(
            &app,
            &browser(),
            "sign_up",
            &[("email", &email), ("password", password)],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body = resp.text().await.unwrap();
        assert!(body.contains(says), "{body}");
    }
    assert_eq!(app.count("select count(*) from app_user").await, 0);
}

#[tokio::test]
async fn a_form_posted_without_javascript_comes_back_with_the_shops_own_message_only() {
    let app = spawn().await;
    let plain_browser = browser();
    let sign_in_page = format!("{}/sign-in", app.base);

    // A plain form post: Leptos sends the browser back to the form with the error in the URL.
    let resp = plain_browser
        .post(format!("{}/api/sign_in", app.base))
        .header("accept", "text/html")
        .header("referer", &sign_in_page)
        .form(&[
            ("email", unique_address("nobody").as_str()),
            ("password", "not the password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let back = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(
        back.starts_with(&sign_in_page) && back.contains("__err="),
        "{back}"
    );
    let page = plain_browser
        .get(&back)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("That email and password do not match an account."),
        "{page}"
    );

    // Anyone can write such a URL; words that are not the shop's are not shown.
    use base64::Engine;
    let forged = base64::engine::general_purpose::URL_SAFE
        .encode(br#"{"Invalid":"Your account is locked. Call +1 555 0100."}"#);
    let page = plain_browser
        .get(format!("{sign_in_page}?__path=/api/sign_in&__err={forged}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("Call +1 555"), "{page}");
    assert!(
        page.contains("Please check what you entered and try again."),
        "{page}"
    );
}

#[tokio::test]
async fn the_library_holds_what_the_account_owns_until_it_is_refunded_and_no_one_else_sees_it() {
    let app = spawn().await;
    let catcher = mail_catcher();
    let email = unique_address("library");
    let owner = verified_account(&app, &catcher, &email).await;
    let other = verified_account(&app, &catcher, &unique_address("neighbour")).await;
    let library = |who: &reqwest::Client| {
        let who = who.clone();
        let base = app.base.clone();
        async move {
            let resp = who
                .post(format!("{base}/api/my_library"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            resp.json::<Vec<serde_json::Value>>().await.unwrap()
        }
    };
    assert!(library(&owner).await.is_empty());

    // Bought while signed in: the order is the account's from the start.
    let resp = call(
        &app,
        &owner,
        "start_checkout",
        &[("slug", "field-recordings-vol-1")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let session: crate::helpers::Session = resp.json().await.unwrap();
    app.pay(&session, "pm_card_visa").await;
    let succeeded = app.event_payload("payment_intent.succeeded").await;
    assert_eq!(app.deliver_signed(&succeeded).await, StatusCode::OK);

    let owned = library(&owner).await;
    assert_eq!(owned.len(), 1, "{owned:#?}");
    assert_eq!(owned[0]["product_slug"], "field-recordings-vol-1");
    assert_eq!(owned[0]["order_id"], session.order_id);
    assert_eq!(owned[0]["under_dispute"], false);
    assert!(library(&other).await.is_empty());
    let nobody = call(&app, &browser(), "my_library", &[]).await;
    assert_eq!(nobody.status(), StatusCode::UNAUTHORIZED);
    let page = app.page_as(&owner, "/library").await;
    assert!(page.contains("Field Recordings, Vol. 1"), "{page}");

    app.refund(&session, None).await;
    let refunded = app.event_payload("charge.refunded").await;
    assert_eq!(app.deliver_signed(&refunded).await, StatusCode::OK);
    assert!(
        library(&owner).await.is_empty(),
        "a refunded item leaves the library"
    );
}
