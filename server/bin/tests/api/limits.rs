//! Rate limits on what an anonymous visitor can make the shop ask of Stripe, with the shop's
//! default settings unless a test says otherwise; and what changes where the shop is served
//! over https (HSTS, a host-only session cookie).

use reqwest::StatusCode;

use crate::helpers::{TestApp, WEBHOOK_SECRET, spawn_with_env};

/// A browser with no cookies yet: a card-testing script starts each attempt afresh.
fn fresh_browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

async fn start(
    app: &TestApp,
    browser: &reqwest::Client,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = browser
        .post(format!("{}/api/start_checkout", app.base))
        .form(&[("slug", "field-recordings-vol-1")]);
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap()
}

fn intent_creates(calls: &[serde_json::Value]) -> usize {
    calls
        .iter()
        .filter(|r| r["method"] == "POST" && r["path"] == "/v1/payment_intents")
        .count()
}

#[tokio::test]
async fn a_card_testing_run_from_one_address_is_refused_with_429_and_a_plain_message() {
    // The shop's own defaults: 30 checkout starts a minute per address.
    let app = spawn_with_env(Some(WEBHOOK_SECRET), &[]).await;
    let mut statuses = Vec::new();
    let mut refusal = None;
    for _ in 0..45 {
        let resp = start(&app, &fresh_browser(), None).await;
        statuses.push(resp.status());
        if resp.status() == StatusCode::TOO_MANY_REQUESTS && refusal.is_none() {
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            refusal = Some((retry_after, resp.json::<serde_json::Value>().await.unwrap()));
        }
    }

    let passed = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    // The allowance refills at one every two seconds, so a slow machine earns a few more
    // while the run lasts; the rest are refused.
    assert!((30..=35).contains(&passed), "{statuses:?}");
    assert_eq!(passed + refused, 45, "{statuses:?}");
    let (retry_after, body) = refusal.unwrap();
    assert_eq!(body, serde_json::json!("TooManyRequests"));
    assert!(
        retry_after.is_some_and(|s| (1..=60).contains(&s)),
        "Retry-After: {retry_after:?}"
    );
    assert_eq!(
        app::error::ShopError::TooManyRequests.to_string(),
        "Too many attempts in a short time. Please wait a minute and try again."
    );
    // Nothing was made for the refused attempts.
    assert_eq!(intent_creates(&app.stripe_calls().await), passed);
    assert_eq!(
        app.count("select count(*) from customer_order").await,
        passed as i64
    );
}

#[tokio::test]
async fn one_session_is_limited_even_when_it_comes_from_many_addresses() {
    let app = spawn_with_env(
        Some(WEBHOOK_SECRET),
        &[
            ("CHECKOUT_STARTS_PER_MINUTE", "3"),
            ("TRUST_FORWARDED_FOR", "true"),
        ],
    )
    .await;
    let browser = fresh_browser();
    let mut statuses = Vec::new();
    for n in 1..=5 {
        let address = format!("203.0.113.{n}");
        statuses.push(start(&app, &browser, Some(&address)).await.status());
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    // Another visitor behind the same proxy is not held back by this one.
    assert_eq!(
        start(&app, &fresh_browser(), Some("203.0.113.99"))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_forwarded_address_is_ignored_unless_the_proxy_is_trusted() {
    let app = spawn_with_env(Some(WEBHOOK_SECRET), &[("CHECKOUT_STARTS_PER_MINUTE", "2")]).await;
    let statuses: Vec<StatusCode> = futures::future::join_all((1..=3).map(|n| {
        let app = &app;
        async move {
            start(app, &fresh_browser(), Some(&format!("198.51.100.{n}")))
                .await
                .status()
        }
    }))
    .await;
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        refused, 1,
        "a made-up X-Forwarded-For got past the limit: {statuses:?}"
    );
}

#[tokio::test]
async fn past_the_read_limit_the_order_page_shows_the_stored_state_without_asking_stripe() {
    let app = spawn_with_env(Some(WEBHOOK_SECRET), &[("STRIPE_READS_PER_MINUTE", "2")]).await;
    let order = app.checkout("field-recordings-vol-1").await;
    let reads_of_intent = |calls: &[serde_json::Value]| {
        let path = format!("/v1/payment_intents/{}", TestApp::intent_id(&order));
        calls
            .iter()
            .filter(|r| r["method"] == "GET" && r["path"] == path.as_str())
            .count()
    };

    for _ in 0..5 {
        let (status, html) = app.page(&format!("/orders/{}", order.order_id)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Awaiting payment"), "{html}");
    }

    assert_eq!(reads_of_intent(&app.stripe_calls().await), 2);
}

#[tokio::test]
async fn over_https_the_shop_sends_hsts_and_a_host_only_secure_session_cookie() {
    let local = spawn_with_env(Some(WEBHOOK_SECRET), &[]).await;
    let resp = local
        .http
        .get(format!("{}/", local.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers().get("strict-transport-security"), None);

    let behind_tls = spawn_with_env(Some(WEBHOOK_SECRET), &[("COOKIE_SECURE", "true")]).await;
    let resp = behind_tls
        .http
        .get(format!("{}/", behind_tls.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=63072000")
    );
    let opened = behind_tls
        .start_checkout(&[("slug", "field-recordings-vol-1")])
        .await;
    assert_eq!(opened.status(), StatusCode::OK);
    let cookies: Vec<String> = opened
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(!cookies.is_empty());
    for cookie in &cookies {
        assert!(cookie.starts_with("__Host-sf_session="), "{cookie}");
        assert!(
            cookie.contains("Secure") && cookie.contains("Path=/"),
            "{cookie}"
        );
        assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    }
}
