//! When the database cannot keep up, pages and server functions say so quickly and plainly
//! (503, "busy"), and the shop recovers as soon as connections free up.

use std::time::Duration;

use crate::helpers::spawn;
use reqwest::StatusCode;

const BUSY: &str = "The shop is busy right now. Please try again in a moment.";

#[tokio::test]
async fn a_page_waiting_for_a_starved_database_answers_503_with_a_readable_page() {
    let app = spawn().await;
    let session = app.checkout("field-recordings-vol-1").await;
    // Take every connection the shop's pool can give, so its requests wait for one.
    let mut held = Vec::new();
    while let Ok(Ok(conn)) = tokio::time::timeout(Duration::from_secs(1), app.pool.acquire()).await
    {
        held.push(conn);
    }
    assert!(!held.is_empty());

    let (order_status, order_page) = app.page(&format!("/orders/{}", session.order_id)).await;
    let (home_status, home_page) = app.page("/").await;
    let checkout = app
        .start_checkout(&[("slug", "field-recordings-vol-1")])
        .await;
    let checkout_status = checkout.status();
    let checkout_error: serde_json::Value = checkout.json().await.unwrap();

    assert_eq!(order_status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(order_page.contains(BUSY), "{order_page}");
    assert!(
        order_page.contains("href=\"/\""),
        "a way back: {order_page}"
    );
    assert_eq!(home_status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(home_page.contains(BUSY), "{home_page}");
    assert_eq!(checkout_status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(checkout_error, serde_json::json!("Busy"));

    drop(held);
    let (status, page) = app.page(&format!("/orders/{}", session.order_id)).await;
    assert_eq!(status, StatusCode::OK, "recovers once connections free up");
    assert!(!page.contains(BUSY), "{page}");
}
