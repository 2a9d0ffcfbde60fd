//! The seller's side: the first admin comes from the command line; every admin page and server
//! function refuses guests and shoppers; an admin refunds part of an order once however often
//! the form is sent, never more than is left; the inbox's "retry" settles a stored event; and
//! the overview's sales net out refunds.

use reqwest::StatusCode;

use crate::helpers::{
    PASSWORD, TestApp, browser, buy_as, call, mail_catcher, post_form, signed_in_admin, spawn,
    unique_address, verified_account,
};

/// Every admin page, and every admin server function with arguments that would otherwise work.
const PAGES: &[&str] = &[
    "/admin",
    "/admin/products",
    "/admin/products/new",
    "/admin/products/field-recordings-vol-1",
    "/admin/orders",
    "/admin/orders?status=paid",
    "/admin/orders/ord_aaaaaaaaaaaaaaaaaaaaaaaaaa",
    "/admin/events",
];

async fn admin(app: &TestApp, who: &str) -> (reqwest::Client, String) {
    signed_in_admin(app, who).await
}

async fn admin_page(app: &TestApp, who: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let resp = who.get(format!("{}{path}", app.base)).send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

async fn functions(
    app: &TestApp,
    who: &reqwest::Client,
    order: &str,
    key: &str,
) -> Vec<(String, StatusCode)> {
    let slug = ("slug", "field-recordings-vol-1");
    let calls: [(&str, Vec<(&str, &str)>); 11] = [
        ("admin_products", vec![]),
        ("admin_product", vec![slug]),
        (
            "admin_save_product",
            vec![
                ("title", "Mine"),
                ("slug", "mine"),
                ("kind", "download"),
                ("price", "1.00"),
                ("currency", "usd"),
            ],
        ),
        ("admin_product_state", vec![slug, ("state", "unpublished")]),
        ("admin_sync_product", vec![slug]),
        ("admin_overview", vec![]),
        ("admin_orders", vec![]),
        ("admin_order", vec![("order_id", order)]),
        ("admin_events", vec![]),
        (
            "admin_refund",
            vec![("order_id", order), ("amount", "1.00"), ("key", key)],
        ),
        ("admin_retry_event", vec![("event_id", "evt_1")]),
    ];
    let mut answers = Vec::new();
    for (name, form) in calls {
        answers.push((name.to_string(), call(app, who, name, &form).await.status()));
    }
    for field in ["file", "preview"] {
        let form = reqwest::multipart::Form::new().part(
            field,
            reqwest::multipart::Part::bytes(b"%PDF-1.7".to_vec()).file_name("x.pdf"),
        );
        let status = who
            .post(format!(
                "{}/admin/products/field-recordings-vol-1/{field}",
                app.base
            ))
            .multipart(form)
            .send()
            .await
            .unwrap()
            .status();
        answers.push((format!("upload {field}"), status));
    }
    answers
}

#[tokio::test]
async fn guests_and_shoppers_are_refused_at_every_admin_page_and_function() {
    let app = spawn().await;
    let shopper = verified_account(&app, &mail_catcher(), &unique_address("notstaff")).await;
    let order = buy_as(&app, &shopper, "field-recordings-vol-1").await;
    let key = "adminrefundkey00000000000000";

    for path in PAGES {
        let (status, body) = admin_page(&app, &browser(), path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(body.contains("sign in"), "{path}: {body}");
        let (status, body) = admin_page(&app, &shopper, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            body.contains("for the shop&#x27;s staff") || body.contains("for the shop's staff"),
            "{path}"
        );
        assert!(!body.contains(&order.order_id), "{path} shows an order");
    }
    for (name, status) in functions(&app, &browser(), &order.order_id, key).await {
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name} for a guest");
    }
    for (name, status) in functions(&app, &shopper, &order.order_id, key).await {
        assert_eq!(status, StatusCode::FORBIDDEN, "{name} for a shopper");
    }
    // Nothing was refunded, made or changed by all that.
    assert_eq!(app.order_status(&order.order_id).await, "paid");
    assert_eq!(app.count("select count(*) from refund_request").await, 0);
    assert_eq!(
        app.count("select count(*) from product where slug = 'mine'")
            .await,
        0
    );
    assert_eq!(
        app.count("select count(*) from product where slug = 'field-recordings-vol-1' and published and version = 1")
            .await,
        1
    );
    // The header offers the admin to no one here.
    let (_, home) = admin_page(&app, &shopper, "/").await;
    assert!(!home.contains("href=\"/admin\""));
}

#[tokio::test]
async fn an_admin_sees_the_overview_orders_and_one_order_with_its_events() {
    let app = spawn().await;
    let (staff, _) = admin(&app, "staff").await;
    let buyer = unique_address("buyer");
    let order = app.checkout("field-recordings-vol-1").await;
    app.set_email(&order, &buyer).await;
    app.pay(&order, "pm_card_visa").await;
    let payload = app.event_payload("payment_intent.succeeded").await;
    assert_eq!(app.deliver_signed(&payload).await, StatusCode::OK);

    let (status, home) = admin_page(&app, &staff, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        home.contains("href=\"/admin\""),
        "the header links to the admin"
    );
    let (status, overview) = admin_page(&app, &staff, "/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(overview.contains("$12.00"), "{overview}");
    assert!(overview.contains("<svg"), "a chart");

    let search = format!("/admin/orders?email={}", &buyer[..8]);
    let (status, list) = admin_page(&app, &staff, &search).await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains(&order.order_id), "{list}");
    let (_, none) = admin_page(&app, &staff, "/admin/orders?status=refunded").await;
    assert!(!none.contains(&order.order_id));
    assert!(none.contains("No orders match."));
    let (status, bad) = admin_page(&app, &staff, "/admin/orders?from=2026-02-30").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad.contains("Please enter dates as YYYY-MM-DD."));

    let (status, detail) =
        admin_page(&app, &staff, &format!("/admin/orders/{}", order.order_id)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(detail.contains("payment_intent.succeeded"), "its event");
    assert!(detail.contains(&TestApp::intent_id(&order)));
    assert!(
        detail.contains("12.00"),
        "the refund form offers what is left"
    );
}

/// Sends the admin's refund form for `amount` with one-time `key`.
async fn refund(
    app: &TestApp,
    staff: &reqwest::Client,
    order: &str,
    amount: &str,
    key: &str,
    revoke: bool,
) -> reqwest::Response {
    let mut form = vec![("order_id", order), ("amount", amount), ("key", key)];
    if revoke {
        form.push(("revoke", "on"));
    }
    call(app, staff, "admin_refund", &form).await
}

#[tokio::test]
async fn an_admin_refunds_part_of_an_order_once_and_the_file_leaves_the_library() {
    let app = spawn().await;
    let (staff, admin_email) = admin(&app, "refunder").await;
    let shopper = verified_account(&app, &mail_catcher(), &unique_address("refunded")).await;
    let order = buy_as(&app, &shopper, "field-recordings-vol-1").await;
    let key = "partialrefundkey000000000000";

    let (first, second) = tokio::join!(
        refund(&app, &staff, &order.order_id, "5.00", key, true),
        refund(&app, &staff, &order.order_id, "5.00", key, true)
    );

    for resp in [first, second] {
        assert!(resp.status().is_success(), "{:?}", resp.text().await);
    }
    let refunds = stripe_core::refund::ListRefund::new()
        .payment_intent(TestApp::intent_id(&order))
        .send(&app.stripe)
        .await
        .unwrap()
        .data;
    assert_eq!(refunds.len(), 1, "one refund for two sends of one form");
    assert_eq!(refunds[0].amount, 500);
    assert_eq!(
        app.order_status(&order.order_id).await,
        "partially_refunded"
    );
    let by: String = sqlx::query_scalar(
        "select u.email from refund_request r join app_user u on u.id = r.requested_by",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(by, admin_email);
    // The shopper's history shows it, and the file is gone from their library.
    let (_, history) = admin_page(&app, &shopper, "/account").await;
    assert!(history.contains("$5.00 refunded"), "{history}");
    let (_, library) = admin_page(&app, &shopper, "/library").await;
    assert!(!library.contains("Field Recordings"), "{library}");

    // Never more than is left: $7.00 is left, $7.01 is refused and nothing changes.
    let resp = refund(
        &app,
        &staff,
        &order.order_id,
        "7.01",
        "secondrefundkey0000000000000",
        false,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("more than is left to refund")
    );
    for typed in ["abc", "0", "1.005"] {
        let resp = refund(
            &app,
            &staff,
            &order.order_id,
            typed,
            "thirdrefundkey00000000000000",
            false,
        )
        .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{typed}");
    }
    assert_eq!(app.count("select count(*) from refund_request").await, 1);
    assert_eq!(
        app.order_status(&order.order_id).await,
        "partially_refunded"
    );
}

#[tokio::test]
async fn a_yen_refund_is_typed_in_whole_yen() {
    let app = spawn().await;
    let (staff, _) = admin(&app, "yen").await;
    let order = app.paid_order("tokyo-night-presets").await;

    let decimals = refund(
        &app,
        &staff,
        &order.order_id,
        "100.50",
        "yenrefundkey0000000000000000",
        false,
    )
    .await;
    assert_eq!(decimals.status(), StatusCode::BAD_REQUEST);
    assert!(decimals.text().await.unwrap().contains("no smaller unit"));
    let whole = refund(
        &app,
        &staff,
        &order.order_id,
        "¥1,500",
        "yenrefundkey1111111111111111",
        false,
    )
    .await;
    assert!(whole.status().is_success());
    assert_eq!(app.order_status(&order.order_id).await, "refunded");
}

#[tokio::test]
async fn retry_from_the_inbox_settles_a_stored_event() {
    let app = spawn().await;
    let (staff, _) = admin(&app, "retrier").await;
    let order = app.checkout("field-recordings-vol-1").await;
    app.pay(&order, "pm_card_visa").await;
    let payload: serde_json::Value =
        serde_json::from_str(&app.event_payload("payment_intent.succeeded").await).unwrap();
    let event_id = payload["id"].as_str().unwrap().to_string();
    sqlx::query("insert into stripe_event (id, type, payload) values ($1, $2, $3)")
        .bind(&event_id)
        .bind("payment_intent.succeeded")
        .bind(&payload)
        .execute(&app.pool)
        .await
        .unwrap();
    let (_, inbox) = admin_page(&app, &staff, "/admin/events?unhandled=true").await;
    assert!(
        inbox.contains(&event_id) && inbox.contains("Retry"),
        "{inbox}"
    );

    let resp = post_form(
        &app,
        &staff,
        "admin_retry_event",
        &[("event_id", &event_id)],
    )
    .await;

    assert!(resp.status().is_redirection());
    assert_eq!(
        resp.headers()["location"].to_str().unwrap(),
        "/admin/events?retried=settled"
    );
    assert_eq!(app.order_status(&order.order_id).await, "paid");
    let again = post_form(
        &app,
        &staff,
        "admin_retry_event",
        &[("event_id", &event_id)],
    )
    .await;
    assert_eq!(
        again.headers()["location"].to_str().unwrap(),
        "/admin/events?retried=already"
    );
    let missing = call(
        &app,
        &staff,
        "admin_retry_event",
        &[("event_id", "evt_nothing")],
    )
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_overview_nets_refunds_out_of_sales_per_currency() {
    let app = spawn().await;
    let (staff, _) = admin(&app, "figures").await;
    let a = app.paid_order("field-recordings-vol-1").await;
    app.paid_order("field-recordings-vol-1").await;
    app.paid_order("tokyo-night-presets").await;
    app.refund(&a, Some(250)).await;
    let refunded = app.await_event("charge.refunded").await;
    assert_eq!(app.deliver_signed(&refunded).await, StatusCode::OK);

    let resp = call(&app, &staff, "admin_overview", &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let overview: serde_json::Value = resp.json().await.unwrap();

    let sales = overview["sales"].as_array().unwrap();
    let usd = sales.iter().find(|s| s["currency"] == "usd").unwrap();
    assert_eq!(usd["today"], 2400 - 250);
    assert_eq!(usd["last_30_days"], 2400 - 250);
    assert_eq!(usd["daily"].as_array().unwrap().len(), 30);
    let jpy = sales.iter().find(|s| s["currency"] == "jpy").unwrap();
    assert_eq!(jpy["last_7_days"], 1500);
    let (_, page) = admin_page(&app, &staff, "/admin").await;
    assert!(page.contains("$21.50") && page.contains("¥1,500"), "{page}");
}

#[tokio::test]
async fn the_create_user_command_makes_an_admin_with_a_password_or_a_one_time_link() {
    let app = spawn().await;
    let with_password = unique_address("cliadmin");
    let mut command =
        app.server_command(&["admin", "create-user", &with_password, "--password-stdin"]);
    command.stdin(std::process::Stdio::piped());
    command.stdout(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(format!("{PASSWORD}\n").as_bytes())
            .await
            .unwrap();
    }
    let out = child.wait_with_output().await.unwrap();
    let stdout = crate::helpers::succeeded(&out);
    assert!(stdout.contains("is a new admin"), "{stdout}");
    let staff = browser();
    let resp = call(
        &app,
        &staff,
        "sign_in",
        &[("email", &with_password), ("password", PASSWORD)],
    )
    .await;
    assert!(resp.status().is_success());
    assert_eq!(admin_page(&app, &staff, "/admin").await.0, StatusCode::OK);

    // Off a terminal, without a password: a link to choose one.
    let with_link = unique_address("linkadmin");
    let out = app
        .server_command(&["admin", "create-user", &with_link])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    let stdout = crate::helpers::succeeded(&out);
    let token = stdout
        .split("?token=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no link in {stdout}"));
    let resp = call(
        &app,
        &browser(),
        "reset_password",
        &[("token", token), ("password", "a brand new password")],
    )
    .await;
    assert!(resp.status().is_success(), "{:?}", resp.text().await);
    let staff = browser();
    call(
        &app,
        &staff,
        "sign_in",
        &[("email", &with_link), ("password", "a brand new password")],
    )
    .await;
    assert_eq!(admin_page(&app, &staff, "/admin").await.0, StatusCode::OK);

    // An existing shopper is promoted, keeping their password.
    let shopper_email = unique_address("promoted");
    let shopper = verified_account(&app, &mail_catcher(), &shopper_email).await;
    assert_eq!(
        admin_page(&app, &shopper, "/admin").await.0,
        StatusCode::FORBIDDEN
    );
    let out = app
        .server_command(&["admin", "create-user", &shopper_email])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(crate::helpers::succeeded(&out).contains("is now an admin"));
    assert_eq!(admin_page(&app, &shopper, "/admin").await.0, StatusCode::OK);

    // Nonsense changes nothing.
    let out = app
        .server_command(&["admin", "create-user", "not an email"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        app.count("select count(*) from app_user where is_admin")
            .await,
        3
    );
}

#[tokio::test]
async fn every_page_says_test_mode_while_test_keys_are_in_use() {
    let app = spawn().await;
    for path in [
        "/",
        "/products/field-recordings-vol-1",
        "/sign-in",
        "/admin",
    ] {
        let (_, body) = admin_page(&app, &browser(), path).await;
        assert!(body.contains("Test mode: payments use Stripe"), "{path}");
    }
}

#[tokio::test]
async fn an_unverified_account_made_admin_keeps_nothing_of_whoever_signed_up() {
    let app = spawn().await;
    let email = unique_address("squatted");
    // Someone signs up with the owner's address and never verifies it.
    let squatter = browser();
    let resp = call(
        &app,
        &squatter,
        "sign_up",
        &[("email", &email), ("password", PASSWORD)],
    )
    .await;
    assert!(resp.status().is_success());

    let made =
        app::accounts::make_admin(&app.pool, &app::domain::Email::parse(&email).unwrap(), None)
            .await
            .unwrap();

    assert!(
        matches!(made, app::accounts::AdminMade::CreatedWithLink(_)),
        "{made:?}"
    );
    let resp = call(
        &app,
        &browser(),
        "sign_in",
        &[("email", &email), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(
        resp.status(),
        StatusCode::BAD_REQUEST,
        "the squatter's password no longer signs in"
    );
    assert_eq!(
        app.count(
            "select count(*) from user_token where purpose = 'verify_email' and used_at is null"
        )
        .await,
        0,
        "the squatter's verification link is void"
    );
}
