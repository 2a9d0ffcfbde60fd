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

#[tokio::test]
async fn readyz_is_200_with_every_migration_in_place_and_503_when_one_is_missing() {
    let app = spawn().await;
    let ready = |app: &crate::helpers::TestApp| {
        let url = format!("{}/readyz", app.base);
        async move {
            let resp = reqwest::get(url).await.unwrap();
            (resp.status(), resp.text().await.unwrap())
        }
    };
    assert_eq!(ready(&app).await, (StatusCode::OK, "ready".to_string()));

    // The database is put back to a schema this build is ahead of (a restore of an old backup,
    // say): the server stays up but takes no shoppers.
    sqlx::query(
        "delete from _sqlx_migrations where version = (select max(version) from _sqlx_migrations)",
    )
    .execute(&app.pool)
    .await
    .unwrap();

    assert_eq!(
        ready(&app).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "database migrations pending".to_string()
        )
    );
    let (health, _) = app.page("/healthz").await;
    assert_eq!(health, StatusCode::OK, "the process itself is up");
}

#[tokio::test]
async fn the_migrate_command_brings_an_empty_database_up_to_this_build() {
    let admin_url = std::env::var("TEST_DATABASE_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
    let prefix = std::env::var("TEST_DATABASE_PREFIX").unwrap_or_else(|_| "sf_test_".into());
    let db = format!("{prefix}migrate_{:016x}", rand::random::<u64>());
    sqlx::query(&format!("create database \"{db}\""))
        .execute(&admin)
        .await
        .unwrap();
    let db_url = format!("{}/{db}", admin_url.rsplit_once('/').unwrap().0);

    let out = crate::helpers::server_command(&["migrate"], &db_url)
        .output()
        .await
        .unwrap();

    let stdout = crate::helpers::succeeded(&out);
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations"))
        .unwrap()
        .count() as i64;
    assert!(
        stdout.contains(&format!("{migrations} migrations")),
        "{stdout}"
    );
    let migrated = sqlx::PgPool::connect(&db_url).await.unwrap();
    let applied: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations where success")
        .fetch_one(&migrated)
        .await
        .unwrap();
    migrated.close().await;
    sqlx::query(&format!("drop database \"{db}\" with (force)"))
        .execute(&admin)
        .await
        .unwrap();
    assert_eq!(applied, migrations);
}
