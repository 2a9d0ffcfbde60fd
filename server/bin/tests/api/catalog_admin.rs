//! The admin's catalog: a product made from the form, its file and preview uploaded, published
//! and bought, and the bytes downloaded the same; uploads checked by content and size, leaving
//! nothing behind when refused; descriptions sanitised; Stripe mirroring the catalog, with a
//! new Price for a new amount, and a failed sync never standing between a shopper and a sale.

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

use crate::helpers::{TestApp, call, eventually, lock_waiters, spawn, spawn_with_env};

async fn staff(app: &TestApp) -> reqwest::Client {
    crate::helpers::signed_in_admin(app, "catalog").await.0
}

fn details<'a>(slug: &'a str, price: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("title", "Night Walks Zine"),
        ("slug", slug),
        (
            "description",
            "A zine of *night walks*.\n\n<script>alert('x')</script>",
        ),
        ("kind", "download"),
        ("price", price),
        ("currency", "usd"),
    ]
}

/// Creates a product from the admin's form and returns its database id.
async fn create(app: &TestApp, staff: &reqwest::Client, slug: &str, price: &str) -> i64 {
    let resp = call(app, staff, "admin_save_product", &details(slug, price)).await;
    assert!(resp.status().is_success(), "{:?}", resp.text().await);
    sqlx::query_scalar("select id from product where slug = $1")
        .bind(slug)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Uploads `bytes` as `name` to a product's `file` or `preview`; returns where the shop sent
/// the browser.
async fn upload(
    app: &TestApp,
    staff: &reqwest::Client,
    slug: &str,
    field: &str,
    name: &str,
    bytes: Vec<u8>,
) -> String {
    let form = Form::new().part(
        field.to_string(),
        Part::bytes(bytes).file_name(name.to_string()),
    );
    let resp = staff
        .post(format!("{}/admin/products/{slug}/{field}", app.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    resp.headers()["location"].to_str().unwrap().to_string()
}

fn pdf() -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..300_000u32).map(|i| (i % 251) as u8));
    bytes
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::DynamicImage::new_rgb8(width, height)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// Objects in the test shop's local storage.
fn stored_objects(app: &TestApp) -> usize {
    let dir = app.settings.storage_dir.join("sha256");
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

async fn set_state(
    app: &TestApp,
    staff: &reqwest::Client,
    slug: &str,
    state: &str,
) -> reqwest::Response {
    call(
        app,
        staff,
        "admin_product_state",
        &[("slug", slug), ("state", state)],
    )
    .await
}

#[tokio::test]
async fn a_product_made_in_the_admin_is_bought_and_its_file_downloads_the_same_bytes() {
    let app = spawn().await;
    let staff = staff(&app).await;
    create(&app, &staff, "night-walks-zine", "7.50").await;
    // Not in the shop until published, and not publishable without its file.
    assert_eq!(
        app.page("/products/night-walks-zine").await.0,
        StatusCode::NOT_FOUND
    );
    let early = set_state(&app, &staff, "night-walks-zine", "published").await;
    assert_eq!(early.status(), StatusCode::BAD_REQUEST);
    assert!(
        early
            .text()
            .await
            .unwrap()
            .contains("Add the product's file")
    );

    let file = pdf();
    let to = upload(
        &app,
        &staff,
        "night-walks-zine",
        "file",
        "night-walks.pdf",
        file.clone(),
    )
    .await;
    assert!(to.ends_with("?upload=file"), "{to}");
    let to = upload(
        &app,
        &staff,
        "night-walks-zine",
        "preview",
        "cover.png",
        png(2400, 1600),
    )
    .await;
    assert!(to.ends_with("?upload=preview"), "{to}");
    let published = set_state(&app, &staff, "night-walks-zine", "published").await;
    assert!(published.status().is_success());

    let (status, page) = app.page("/products/night-walks-zine").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<em>night walks</em>"), "Markdown rendered");
    assert!(!page.contains("<script>alert"), "no script survives");
    assert!(page.contains("$7.50"));
    let preview = page
        .split("src=\"/media/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a preview on the page");
    let image = reqwest::get(format!("{}/media/{preview}", app.base))
        .await
        .unwrap();
    assert_eq!(image.status(), StatusCode::OK);
    assert!(
        image.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let resized = image::load_from_memory(&image.bytes().await.unwrap()).unwrap();
    assert_eq!((resized.width(), resized.height()), (1200, 800));

    // A shopper buys it and downloads exactly what was uploaded.
    let order = app.checkout("night-walks-zine").await;
    let charged: i64 =
        sqlx::query_scalar("select amount_minor from customer_order where public_id = $1")
            .bind(&order.order_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(charged, 750);
    app.pay(&order, "pm_card_visa").await;
    let paid = app.event_payload("payment_intent.succeeded").await;
    assert_eq!(app.deliver_signed(&paid).await, StatusCode::OK);
    let link = app
        .state
        .files
        .sign(&app::domain::OrderId::parse(&order.order_id).unwrap());
    let download = reqwest::get(format!("{}/files/{link}", app.base))
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert!(
        download.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("night-walks.pdf")
    );
    assert_eq!(download.bytes().await.unwrap().to_vec(), file);
}

#[tokio::test]
async fn a_file_that_is_not_what_its_name_says_is_refused_and_nothing_is_kept() {
    let app = spawn().await;
    let staff = staff(&app).await;
    create(&app, &staff, "not-a-pdf", "5.00").await;
    let before = stored_objects(&app);

    let zip = b"PK\x03\x04 a zip, not a pdf".to_vec();
    let to = upload(&app, &staff, "not-a-pdf", "file", "guide.pdf", zip).await;
    assert!(to.ends_with("?upload=mismatch"), "{to}");
    let to = upload(
        &app,
        &staff,
        "not-a-pdf",
        "file",
        "setup.exe",
        b"MZ".to_vec(),
    )
    .await;
    assert!(to.ends_with("?upload=unknown_type"), "{to}");
    let to = upload(
        &app,
        &staff,
        "not-a-pdf",
        "preview",
        "cover.png",
        b"%PDF-1.7".to_vec(),
    )
    .await;
    assert!(to.ends_with("?upload=not_an_image"), "{to}");

    assert_eq!(stored_objects(&app), before, "nothing reached the storage");
    assert_eq!(
        app.count("select count(*) from product_file f join product p on p.id = f.product_id where p.slug = 'not-a-pdf'")
            .await,
        0
    );
    let admin_page = app
        .page_as(&staff, "/admin/products/not-a-pdf?upload=mismatch")
        .await;
    assert!(admin_page.contains("a .pdf must be a PDF"), "{admin_page}");
}

#[tokio::test]
async fn an_upload_past_the_size_limit_is_refused_and_leaves_nothing() {
    let app = spawn_with_env(
        Some(crate::helpers::WEBHOOK_SECRET),
        &[("UPLOAD_MAX_MB", "1")],
    )
    .await;
    let staff = staff(&app).await;
    create(&app, &staff, "too-big", "5.00").await;
    let before = stored_objects(&app);
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(1024 * 1024 + 10, b'x');

    let to = upload(&app, &staff, "too-big", "file", "big.pdf", big).await;

    assert!(to.ends_with("?upload=too_large"), "{to}");
    assert_eq!(stored_objects(&app), before);
    // Other tests may be uploading at this moment; none of this test's bytes are left.
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("storefront-upload-")
        })
        .filter(|e| e.metadata().is_ok_and(|m| m.len() > 1024 * 1024))
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn media_serves_previews_only_never_a_paid_file() {
    let app = spawn().await;
    let staff = staff(&app).await;
    create(&app, &staff, "secret-file", "5.00").await;
    let file = pdf();
    upload(
        &app,
        &staff,
        "secret-file",
        "file",
        "secret.pdf",
        file.clone(),
    )
    .await;
    let key: String = sqlx::query_scalar(
        "select object_key from product_file f join product p on p.id = f.product_id where p.slug = 'secret-file'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let hash = key.trim_start_matches("sha256/");

    let (status, _) = app.page(&format!("/media/{hash}.jpg")).await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.page("/media/..%2f..%2fetc%2fpasswd.jpg").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bad_details_are_refused_with_a_plain_message_and_change_nothing() {
    let app = spawn().await;
    let staff = staff(&app).await;
    let products = app.count("select count(*) from product").await;
    let cases: &[(&str, &str, &str)] = &[
        ("price", "abc", "Please enter an amount"),
        ("price", "0.10", "Stripe does not take payments that small"),
        ("slug", "Has Spaces", "lowercase letters"),
        (
            "slug",
            "field-recordings-vol-1",
            "Another product already has that address.",
        ),
        ("currency", "xyz", "Please choose a currency"),
        (
            "kind",
            "credits",
            "A credit pack needs a price and the number of credits",
        ),
    ];
    for (field, value, message) in cases {
        let mut form = details("fresh-product", "5.00");
        form.retain(|(k, _)| k != field);
        form.push((field, value));
        let resp = call(&app, &staff, "admin_save_product", &form).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{field}={value}");
        let body = resp.text().await.unwrap();
        assert!(body.contains(message), "{field}={value}: {body}");
    }
    assert_eq!(app.count("select count(*) from product").await, products);
}

#[tokio::test]
async fn a_save_over_someone_elses_change_is_refused() {
    let app = spawn().await;
    let staff = staff(&app).await;
    let id = create(&app, &staff, "two-editors", "5.00").await;
    let id = id.to_string();
    let mut first = details("two-editors", "6.00");
    first.extend([("id", id.as_str()), ("version", "1")]);
    assert!(
        call(&app, &staff, "admin_save_product", &first)
            .await
            .status()
            .is_success()
    );

    let mut stale = details("two-editors", "9.00");
    stale.extend([("id", id.as_str()), ("version", "1")]);
    let resp = call(&app, &staff, "admin_save_product", &stale).await;

    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Someone changed this product")
    );
    let price: i64 =
        sqlx::query_scalar("select price_minor from product where slug = 'two-editors'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(price, 600);
}

#[tokio::test]
async fn a_product_with_orders_keeps_its_kind_and_currency_and_the_rest_still_changes() {
    let app = spawn().await;
    let staff = staff(&app).await;
    let id = create(&app, &staff, "sold-zine", "5.00").await;
    // Before any order, both are choices.
    let unsold = app.page_as(&staff, "/admin/products/sold-zine").await;
    assert!(
        unsold.contains(r#"<select id="kind" name="kind">"#),
        "{unsold}"
    );
    assert!(unsold.contains(r#"<select id="currency" name="currency">"#));
    upload(&app, &staff, "sold-zine", "file", "zine.pdf", pdf()).await;
    assert!(
        set_state(&app, &staff, "sold-zine", "published")
            .await
            .status()
            .is_success()
    );
    app.checkout("sold-zine").await;
    let id = id.to_string();
    let product = || async {
        sqlx::query_as::<_, (String, String, i64, i32)>(
            "select kind::text, currency::text, price_minor, version from product where slug = 'sold-zine'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    let (_, _, _, version) = product().await;
    let version = version.to_string();
    // The form says so, and offers neither to change.
    let form_page = app.page_as(&staff, "/admin/products/sold-zine").await;
    assert!(
        form_page.contains("Both are fixed once a product has orders"),
        "{form_page}"
    );
    assert!(!form_page.contains(r#"<select id="kind""#));
    assert!(!form_page.contains(r#"<select id="currency""#));
    // It sends them as they are, so a save from this form keeps them.
    assert!(form_page.contains(r#"<input type="hidden" name="kind" value="download">"#));
    assert!(form_page.contains(r#"<input type="hidden" name="currency" value="usd">"#));

    for (field, value) in [("currency", "eur"), ("kind", "membership")] {
        let mut form = details("sold-zine", "5.00");
        form.retain(|(name, _)| *name != field);
        form.extend([
            (field, value),
            ("id", id.as_str()),
            ("version", version.as_str()),
        ]);
        let resp = call(&app, &staff, "admin_save_product", &form).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{field}");
        assert!(
            resp.text()
                .await
                .unwrap()
                .contains("This product has orders"),
            "{field}"
        );
        let (kind, currency, _, now) = product().await;
        assert_eq!((kind.as_str(), currency.as_str()), ("download", "usd"));
        assert_eq!(now.to_string(), version, "nothing about it changed");
    }

    let mut form = details("sold-zine", "6.00");
    form.extend([("id", id.as_str()), ("version", version.as_str())]);
    let resp = call(&app, &staff, "admin_save_product", &form).await;
    assert!(resp.status().is_success(), "{:?}", resp.text().await);
    let (kind, currency, price, _) = product().await;
    assert_eq!(
        (kind.as_str(), currency.as_str(), price),
        ("download", "usd", 600)
    );
}

#[tokio::test]
async fn a_checkout_racing_a_currency_change_makes_no_order_in_the_old_currency() {
    let app = spawn().await;
    let slug = "field-recordings-vol-1";
    // An admin's save is under way: the product's currency is changed, not yet committed.
    let mut save = app.pool.begin().await.unwrap();
    sqlx::query("update product set currency = 'eur', version = version + 1 where slug = $1")
        .bind(slug)
        .execute(&mut *save)
        .await
        .unwrap();
    let checkout = tokio::spawn({
        let http = app.http.clone();
        let url = format!("{}/api/start_checkout", app.base);
        async move {
            let resp = http.post(url).form(&[("slug", slug)]).send().await.unwrap();
            (resp.status(), resp.text().await.unwrap())
        }
    });
    // The checkout read the product before the change; it now either waits for the save or
    // (were it to write its order regardless) has finished.
    let pool = app.pool.clone();
    eventually("the checkout waiting for the product, or done", || async {
        (lock_waiters(&pool).await > 0 || checkout.is_finished()).then_some(())
    })
    .await;
    save.commit().await.unwrap();

    let (status, body) = checkout.await.unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("Please reload the page and try again"),
        "{body}"
    );
    let orders = app
        .count(
            "select count(*) from customer_order o join product p on p.id = o.product_id
             where p.slug = 'field-recordings-vol-1'",
        )
        .await;
    assert_eq!(
        orders, 0,
        "no order was made from the product as it was before the change"
    );
}

/// The Stripe Product a product is mirrored as.
async fn stripe_product(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("select stripe_product_id from product where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// A Stripe object at the stand-in, as JSON.
async fn stripe_object(app: &TestApp, path: &str) -> serde_json::Value {
    app.http
        .get(format!("{}/v1/{path}", app.standin.base_url))
        .bearer_auth(crate::helpers::SECRET_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn stripe_mirrors_the_catalog_and_a_new_price_archives_the_old_one() {
    let app = spawn().await;
    let staff = staff(&app).await;
    let id = create(&app, &staff, "mirrored", "5.00").await;
    upload(&app, &staff, "mirrored", "file", "m.pdf", pdf()).await;
    set_state(&app, &staff, "mirrored", "published").await;
    let order = app.paid_order("mirrored").await;
    assert!(
        app::catalog::stripe_sync::sync(&app.pool, &app.stripe, id)
            .await
            .unwrap()
    );

    let product = stripe_object(
        &app,
        &format!("products/{}", stripe_product(&app, id).await),
    )
    .await;
    assert_eq!(product["name"], "Night Walks Zine");
    assert_eq!(product["metadata"]["storefront_id"], id.to_string());
    assert_eq!(product["active"], true);
    let first_price = product["default_price"].as_str().unwrap().to_string();
    assert_eq!(
        stripe_object(&app, &format!("prices/{first_price}")).await["unit_amount"],
        500
    );

    // A new amount: a new Price, the old one archived; the earlier order keeps what it paid.
    let mut form = details("mirrored", "8.00");
    let id_text = id.to_string();
    let version: i32 = sqlx::query_scalar("select version from product where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let version = version.to_string();
    form.extend([("id", id_text.as_str()), ("version", version.as_str())]);
    assert!(
        call(&app, &staff, "admin_save_product", &form)
            .await
            .status()
            .is_success()
    );
    assert!(
        app::catalog::stripe_sync::sync(&app.pool, &app.stripe, id)
            .await
            .unwrap()
    );

    let product = stripe_object(
        &app,
        &format!("products/{}", stripe_product(&app, id).await),
    )
    .await;
    let second_price = product["default_price"].as_str().unwrap().to_string();
    assert_ne!(second_price, first_price);
    assert_eq!(
        stripe_object(&app, &format!("prices/{second_price}")).await["unit_amount"],
        800
    );
    assert_eq!(
        stripe_object(&app, &format!("prices/{first_price}")).await["active"],
        false
    );
    let paid: i64 =
        sqlx::query_scalar("select amount_minor from customer_order where public_id = $1")
            .bind(&order.order_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(paid, 500);
    // Once every product is in step (the demo ones too), another run writes nothing.
    app::catalog::stripe_sync::sync_pending(&app.pool, &app.stripe)
        .await
        .unwrap();
    let writes = app.stripe_calls().await.len();
    assert_eq!(
        app::catalog::stripe_sync::sync_pending(&app.pool, &app.stripe)
            .await
            .unwrap(),
        0
    );
    assert_eq!(app.stripe_calls().await.len(), writes);
}

#[tokio::test]
async fn a_failed_sync_is_shown_and_retried_and_never_blocks_a_sale() {
    let app = spawn().await;
    let staff = staff(&app).await;
    let id = create(&app, &staff, "flaky-sync", "5.00").await;
    upload(&app, &staff, "flaky-sync", "file", "f.pdf", pdf()).await;
    app.standin_post(
        "faults",
        serde_json::json!({ "method": "POST", "path": "/v1/products", "status": 500, "times": 20 }),
    )
    .await;
    let published = set_state(&app, &staff, "flaky-sync", "published").await;
    assert!(published.status().is_success());
    assert!(
        !app::catalog::stripe_sync::sync(&app.pool, &app.stripe, id)
            .await
            .unwrap()
    );

    // The sale goes through all the same.
    app.paid_order("flaky-sync").await;
    let page = app.page_as(&staff, "/admin/products/flaky-sync").await;
    assert!(page.contains("Not synced: Stripe answered 500"), "{page}");

    app.http
        .delete(format!("{}/_standin/faults", app.standin.base_url))
        .send()
        .await
        .unwrap();
    assert!(
        app::catalog::stripe_sync::sync_pending(&app.pool, &app.stripe)
            .await
            .unwrap()
            >= 1
    );
    let page = app.page_as(&staff, "/admin/products/flaky-sync").await;
    assert!(page.contains("In step"), "{page}");
    assert_eq!(
        stripe_object(
            &app,
            &format!("products/{}", stripe_product(&app, id).await)
        )
        .await["active"],
        true
    );
}

#[tokio::test]
async fn an_archived_product_leaves_the_shop_and_cannot_be_bought() {
    let app = spawn().await;
    let staff = staff(&app).await;
    let refused = set_state(&app, &staff, "field-recordings-vol-1", "archived").await;
    assert_eq!(
        refused.status(),
        StatusCode::BAD_REQUEST,
        "a published product is unpublished first"
    );
    assert!(
        set_state(&app, &staff, "field-recordings-vol-1", "unpublished")
            .await
            .status()
            .is_success()
    );
    assert!(
        set_state(&app, &staff, "field-recordings-vol-1", "archived")
            .await
            .status()
            .is_success()
    );

    assert_eq!(
        app.page("/products/field-recordings-vol-1").await.0,
        StatusCode::NOT_FOUND
    );
    let checkout = app
        .start_checkout(&[("slug", "field-recordings-vol-1")])
        .await;
    assert_eq!(checkout.status(), StatusCode::NOT_FOUND);
    let again = set_state(&app, &staff, "field-recordings-vol-1", "published").await;
    assert_eq!(
        again.status(),
        StatusCode::NOT_FOUND,
        "archived products are gone from the admin"
    );
}
