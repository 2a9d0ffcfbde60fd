//! Files in an S3-compatible bucket (moto's server, which scripts/test.sh runs): with
//! `STORAGE_S3_BUCKET` set, the shop keeps its files in the bucket, not on disk, and a buyer
//! downloads and resumes them from it.

use object_store::ObjectStoreExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::helpers::{
    WEBHOOK_SECRET, buy_as, mail_catcher, spawn_with_env, unique_address, verified_account,
};

fn s3_endpoint() -> String {
    std::env::var("S3_TEST_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "S3_TEST_ENDPOINT is not set: scripts/test.sh runs an S3 server and sets it; by \
             hand, run `bash scripts/s3-server.sh 4566` and export \
             S3_TEST_ENDPOINT=http://127.0.0.1:4566"
        )
    })
}

#[tokio::test]
async fn with_a_bucket_configured_files_are_kept_in_it_and_downloaded_from_it() {
    let endpoint = s3_endpoint();
    let bucket = format!("shop-{:016x}", rand::random::<u64>());
    let made = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(made.status().is_success(), "{:?}", made.text().await);
    let app = spawn_with_env(
        Some(WEBHOOK_SECRET),
        &[
            ("STORAGE_S3_BUCKET", &bucket),
            ("STORAGE_S3_ENDPOINT", &endpoint),
            ("STORAGE_S3_ACCESS_KEY_ID", "shop"),
            ("STORAGE_S3_SECRET_ACCESS_KEY", "shop-secret"),
        ],
    )
    .await;

    // The demo files went into the bucket, under their SHA-256, and nothing onto the disk.
    let (key, size): (String, i64) = sqlx::query_as(
        "select f.object_key, f.size_bytes from product_file f
         join product p on p.id = f.product_id where p.slug = 'field-recordings-vol-1'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let bucket_store = AmazonS3Builder::new()
        .with_bucket_name(&bucket)
        .with_region("us-east-1")
        .with_endpoint(&endpoint)
        .with_allow_http(true)
        .with_access_key_id("reader")
        .with_secret_access_key("reader-secret")
        .build()
        .unwrap();
    let stored = bucket_store.head(&Path::from(key.as_str())).await.unwrap();
    assert_eq!(stored.size, size as u64);
    assert!(
        !app.settings.storage_dir.exists(),
        "files were written to disk"
    );

    let owner = verified_account(&app, &mail_catcher(), &unique_address("s3")).await;
    let order = buy_as(&app, &owner, "field-recordings-vol-1").await;
    let link = owner
        .get(format!("{}/library/{}/download", app.base, order.order_id))
        .send()
        .await
        .unwrap();
    assert_eq!(link.status(), StatusCode::SEE_OTHER);
    let url = format!(
        "{}{}",
        app.base,
        link.headers()["location"].to_str().unwrap()
    );

    let whole = reqwest::get(&url).await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    let bytes = whole.bytes().await.unwrap();
    assert_eq!(
        format!("sha256/{}", hex::encode(Sha256::digest(&bytes))),
        key
    );
    let rest = reqwest::Client::new()
        .get(&url)
        .header("range", "bytes=100-")
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(rest.bytes().await.unwrap(), bytes.slice(100..));
}
