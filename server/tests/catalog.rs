//! The catalog pages against the real server and database: what the pages show follows the
//! database, also while the server keeps the catalog in memory.

mod helpers;

use helpers::spawn;
use reqwest::StatusCode;

#[tokio::test]
async fn the_home_page_lists_the_published_products_with_their_prices() {
    let app = spawn().await;
    let (status, html) = app.page("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Tokyo Night Presets"), "{html}");
    assert!(html.contains("¥1,500"), "JPY has no decimals: {html}");
}

#[tokio::test]
async fn a_price_change_shows_on_the_next_page_loads() {
    let app = spawn().await;
    // Twice, so the second answer came from the server's copy if it keeps one.
    app.page("/").await;
    let (_, before) = app.page("/products/tokyo-night-presets").await;
    assert!(before.contains("¥1,500"), "{before}");

    sqlx::query("update product set price_minor = 2200 where slug = 'tokyo-night-presets'")
        .execute(&app.pool)
        .await
        .unwrap();

    let home = app.page_until("/", |h| h.contains("¥2,200")).await;
    assert!(
        home.contains("¥2,200") && !home.contains("¥1,500"),
        "{home}"
    );
    let product = app
        .page_until("/products/tokyo-night-presets", |h| h.contains("¥2,200"))
        .await;
    assert!(product.contains("¥2,200"), "{product}");
}

#[tokio::test]
async fn an_unpublished_product_leaves_the_catalog_and_its_page_is_not_found() {
    let app = spawn().await;
    app.page("/").await;
    app.page("/products/tokyo-night-presets").await;

    sqlx::query("update product set published = false where slug = 'tokyo-night-presets'")
        .execute(&app.pool)
        .await
        .unwrap();

    let home = app.page_until("/", |h| !h.contains("Tokyo Night")).await;
    assert!(!home.contains("Tokyo Night"), "{home}");
    let resp = app
        .http
        .post(format!("{}/api/get_product", app.base))
        .form(&[("slug", "tokyo-night-presets")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let checkout = app.start_checkout(&[("slug", "tokyo-night-presets")]).await;
    assert_eq!(checkout.status(), StatusCode::NOT_FOUND);
}
