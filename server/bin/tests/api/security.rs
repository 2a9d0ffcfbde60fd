//! What an attacker would try, against the real server and its own database: posts from
//! another site, guessing order ids, and HTML in the catalog.

use crate::helpers::spawn;
use reqwest::StatusCode;

#[tokio::test]
async fn a_cross_site_post_to_a_server_function_is_refused_and_changes_nothing() {
    let app = spawn().await;
    let plain = reqwest::Client::new();
    let url = format!("{}/api/start_checkout", app.base);

    let by_fetch_metadata = plain
        .post(&url)
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.example")
        .form(&[("slug", "tokyo-night-presets")])
        .send()
        .await
        .unwrap();
    let by_origin_only = plain
        .post(&url)
        .header("origin", "https://evil.example")
        .form(&[("slug", "tokyo-night-presets")])
        .send()
        .await
        .unwrap();

    assert_eq!(by_fetch_metadata.status(), StatusCode::FORBIDDEN);
    assert_eq!(by_origin_only.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("select count(*) from customer_order").await, 0);
    assert!(
        app.standin.app.store().requests.is_empty(),
        "no PaymentIntent was created"
    );
}

#[tokio::test]
async fn a_same_origin_post_from_the_shops_own_page_is_accepted() {
    let app = spawn().await;
    let resp = reqwest::Client::new()
        .post(format!("{}/api/start_checkout", app.base))
        .header("sec-fetch-site", "same-origin")
        .header("origin", &app.base)
        .form(&[("slug", "tokyo-night-presets")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(app.count("select count(*) from customer_order").await, 1);
}

#[tokio::test]
async fn an_order_page_is_not_found_without_its_exact_public_id() {
    let app = spawn().await;
    let session = app.checkout("tokyo-night-presets").await;
    app.pay(&session, "pm_card_visa").await;
    let (status, _) = app.page(&format!("/orders/{}", session.order_id)).await;
    assert_eq!(status, StatusCode::OK);

    // Near misses, internal row ids and other shapes all get the same plain 404.
    let mut near = session.order_id.clone();
    let last = near.pop().unwrap();
    near.push(if last == 'a' { 'b' } else { 'a' });
    for guess in [
        near.as_str(),
        "1",
        "ord_1",
        "ord_00000000000000000000000000",
        &session.order_id.to_uppercase(),
        "%27%20or%201%3D1--",
    ] {
        let (status, html) = app.page(&format!("/orders/{guess}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "/orders/{guess}");
        assert!(
            !html.contains("Tokyo Night"),
            "/orders/{guess} leaks the order"
        );
        let api = app
            .http
            .post(format!("{}/api/get_order", app.base))
            .form(&[("id", guess)])
            .send()
            .await
            .unwrap();
        assert_eq!(api.status(), StatusCode::NOT_FOUND, "get_order({guess})");
    }
}

#[tokio::test]
async fn html_in_product_titles_and_descriptions_is_escaped_on_every_page() {
    let app = spawn().await;
    sqlx::query(
        r#"update product set title = '</title><script>alert("title")</script>',
                              description = '<img src=x onerror=alert(1)>'
           where slug = 'tokyo-night-presets'"#,
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let session = app.checkout("tokyo-night-presets").await;
    app.pay(&session, "pm_card_visa").await;

    for path in [
        "/".to_string(),
        "/products/tokyo-night-presets".to_string(),
        format!("/orders/{}", session.order_id),
    ] {
        let html = app
            .page_until(&path, |h| h.contains("&lt;script&gt;"))
            .await;
        assert!(
            !html.contains("<script>alert"),
            "{path} runs the title: {html}"
        );
        assert!(!html.contains("<img src=x"), "{path} runs the description");
        assert!(
            html.contains("&lt;script&gt;"),
            "{path} shows the title as text: {html}"
        );
    }
}

#[tokio::test]
async fn an_email_with_markup_is_refused_and_not_stored() {
    let app = spawn().await;
    let session = app.checkout("tokyo-night-presets").await;
    let resp = app
        .http
        .post(format!("{}/api/set_checkout_email", app.base))
        .form(&[
            ("order_id", session.order_id.as_str()),
            ("email", "<script>alert(1)</script>@example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.count("select count(*) from customer_order where email is not null")
            .await,
        0
    );
}

#[tokio::test]
async fn pages_refuse_to_be_framed_by_another_site() {
    let app = spawn().await;
    for path in ["/", "/products/tokyo-night-presets"] {
        let resp = app
            .http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert!(
            header("content-security-policy").contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
    }
}

#[tokio::test]
async fn knowing_an_order_id_is_not_enough_to_act_as_its_buyer() {
    let app = spawn().await;
    let resp = app
        .start_checkout(&[("slug", "field-recordings-vol-1")])
        .await;
    let cookies: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session: crate::helpers::Session = resp.json().await.unwrap();
    let id = session.order_id.as_str();

    // The browser holds a random session id, never the order's id, in a cookie scripts and
    // other sites cannot use.
    // (Checkout sets it as soon as the order exists, in case the request then fails, and the
    // session layer sets the same cookie again on success.)
    assert!(!cookies.is_empty());
    for cookie in &cookies {
        assert!(cookie.starts_with("sf_session="), "{cookie}");
        assert!(!cookie.contains(id), "{cookie}");
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
        }
    }
    let values: std::collections::BTreeSet<&str> = cookies
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect();
    assert_eq!(values.len(), 1, "one session: {cookies:?}");
    // Someone who read the order page's URL presents the id every way a cookie could carry it.
    for forged in [format!("sf_checkout={id}"), format!("sf_session={id}")] {
        let resp = reqwest::Client::new()
            .post(format!("{}/api/set_checkout_email", app.base))
            .header("cookie", forged.as_str())
            .form(&[("order_id", id), ("email", "thief@example.com")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), reqwest::StatusCode::NOT_FOUND, "{forged}");
    }
    assert_eq!(
        app.count("select count(*) from customer_order where email is not null")
            .await,
        0
    );
}

#[tokio::test]
async fn why_a_card_was_declined_is_shown_to_its_buyer_only() {
    let app = spawn().await;
    let session = app.checkout("field-recordings-vol-1").await;
    let declined = stripe_core::payment_intent::ConfirmPaymentIntent::new(
        crate::helpers::TestApp::intent_id(&session),
    )
    .payment_method("pm_card_chargeDeclinedInsufficientFunds")
    .send(&app.stripe)
    .await;
    assert!(declined.is_err());
    let path = format!("/orders/{}", session.order_id);

    let buyer = app
        .page_until(&path, |html| html.contains("Payment failed"))
        .await;
    let (_, stranger) = {
        let resp = reqwest::Client::new()
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        (resp.status(), resp.text().await.unwrap())
    };

    assert!(buyer.contains("insufficient funds"), "{buyer}");
    assert!(stranger.contains("Payment failed"), "{stranger}");
    assert!(!stranger.contains("insufficient funds"), "{stranger}");
}
