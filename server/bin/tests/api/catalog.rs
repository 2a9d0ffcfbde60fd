//! The catalog pages against the real server and database: what the pages show follows the
//! database, also while the server keeps the catalog in memory.

use crate::helpers::spawn;
use std::time::Duration;

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
    let (status, page) = app.page("/products/tokyo-night-presets").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("We couldn't find that."), "{page}");
    assert!(!page.contains("¥1,500") && !page.contains("Pay "), "{page}");
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

/// Issue 8. leptos switches resource loading off process-wide (`SuppressResourceLoad`) while
/// it walks the app to list its routes; a shop that listed them at every start stalled, for
/// good, any page another shop in the same process was rendering at that moment.
#[tokio::test]
async fn pages_keep_answering_while_another_shop_starts_in_the_same_process() {
    let app = spawn().await;
    // Other shops start on a thread and runtime of their own, as in another test.
    let settings = app.settings.clone();
    let starting = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            for _ in 0..40 {
                let other = crate::helpers::build_app(settings.clone()).await;
                // Its connections go back to Postgres, which has a limited number of them.
                other.state.pool.close().await;
            }
        })
    });

    let mut loads = 0;
    let mut stalled = Vec::new();
    while !starting.is_finished() || loads < 50 {
        loads += 1;
        match tokio::time::timeout(Duration::from_secs(10), app.page("/")).await {
            Ok((status, _)) => assert_eq!(status, StatusCode::OK),
            Err(_) => stalled.push(loads),
        }
    }
    starting.join().unwrap();

    assert!(
        stalled.is_empty(),
        "{} of {loads} page loads got no answer within 10 s: {stalled:?}",
        stalled.len()
    );
}
