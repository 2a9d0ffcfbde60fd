//! The site's assets: content-hashed names kept by browsers for good and served from memory,
//! other names checked each time, brotli copies made at build time sent as they are, 304 to a
//! browser that has the file, and pages that a cache must ask for again.

use std::path::Path;

use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, IF_MODIFIED_SINCE, LAST_MODIFIED,
};

use crate::helpers::{TestApp, WEBHOOK_SECRET, spawn_with_site};

const HASHED: &str = "storefront.0123456789abcdef";

/// A site as `scripts/build-site.sh` leaves it: plain names, their hashed copies with brotli
/// forms, and `pkg/asset-name`.
fn site(dir: &Path) {
    let pkg = dir.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    for (ext, body) in [
        ("css", "body{color:red}"),
        ("js", "export default 1;"),
        ("wasm", "\0asm"),
    ] {
        std::fs::write(pkg.join(format!("storefront.{ext}")), body).unwrap();
    }
    // The hashed copies are written after the plain ones, as the script does.
    std::thread::sleep(std::time::Duration::from_millis(20));
    for (ext, body) in [
        ("css", "body{color:red}"),
        ("js", "export default 1;"),
        ("wasm", "\0asm"),
    ] {
        std::fs::write(pkg.join(format!("{HASHED}.{ext}")), body).unwrap();
        std::fs::write(pkg.join(format!("{HASHED}.{ext}.br")), format!("br:{body}")).unwrap();
    }
    std::fs::write(pkg.join("asset-name"), format!("{HASHED}\n")).unwrap();
}

async fn get(
    app: &TestApp,
    path: &str,
    header: Option<(reqwest::header::HeaderName, &str)>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}{path}", app.base));
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn hashed_assets_are_kept_for_good_served_from_memory_and_sent_as_precompressed() {
    let dir = tempfile::tempdir().unwrap();
    site(dir.path());
    let app = spawn_with_site(Some(WEBHOOK_SECRET), &[], Some(dir.path())).await;

    let (_, page) = app.page("/").await;
    assert!(
        page.contains(&format!(r#"href="/pkg/{HASHED}.css""#)),
        "{page}"
    );
    assert!(page.contains(&format!("/pkg/{HASHED}.js")), "{page}");
    assert!(page.contains(&format!("/pkg/{HASHED}.wasm")), "{page}");
    let home = get(&app, "/", None).await;
    assert_eq!(home.headers()[CACHE_CONTROL], "no-cache");

    // The brotli copy made at build time, as it is.
    let css = get(
        &app,
        &format!("/pkg/{HASHED}.css"),
        Some((ACCEPT_ENCODING, "br")),
    )
    .await;
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(css.headers()[CONTENT_ENCODING], "br");
    assert_eq!(css.headers()[reqwest::header::VARY], "accept-encoding");
    assert_eq!(
        css.headers()[CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(css.text().await.unwrap(), "br:body{color:red}");

    // A browser that has the file is told so.
    let wasm = get(&app, &format!("/pkg/{HASHED}.wasm"), None).await;
    assert_eq!(wasm.status(), StatusCode::OK);
    let modified = wasm.headers()[LAST_MODIFIED].to_str().unwrap().to_string();
    let again = get(
        &app,
        &format!("/pkg/{HASHED}.wasm"),
        Some((IF_MODIFIED_SINCE, &modified)),
    )
    .await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        again.headers()[CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );

    // An older copy is sent the file again.
    let older = get(
        &app,
        &format!("/pkg/{HASHED}.wasm"),
        Some((IF_MODIFIED_SINCE, "Mon, 01 Jan 2001 00:00:00 GMT")),
    )
    .await;
    assert_eq!(older.status(), StatusCode::OK);
    assert_eq!(older.bytes().await.unwrap().as_ref(), b"\0asm");

    // Hashed files are read once, at start: what is on the disk later does not matter, and a
    // browser that refuses brotli gets the plain file.
    std::fs::remove_file(dir.path().join(format!("pkg/{HASHED}.css"))).unwrap();
    std::fs::remove_file(dir.path().join(format!("pkg/{HASHED}.css.br"))).unwrap();
    let kept = get(
        &app,
        &format!("/pkg/{HASHED}.css"),
        Some((ACCEPT_ENCODING, "gzip;q=1, br;q=0")),
    )
    .await;
    assert_eq!(kept.status(), StatusCode::OK);
    assert!(kept.headers().get(CONTENT_ENCODING).is_none());
    assert_eq!(kept.headers()[reqwest::header::CONTENT_TYPE], "text/css");
    assert_eq!(kept.text().await.unwrap(), "body{color:red}");

    // A plain name may change: it is checked each time.
    let plain = get(&app, "/pkg/storefront.css", None).await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(plain.headers()[CACHE_CONTROL], "no-cache");
    let missing = get(&app, "/pkg/nothing.js", None).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn plain_assets_newer_than_the_hashed_copies_are_served_instead() {
    // `cargo leptos watch` rewrites the plain names only: older hashed copies must not hide its
    // rebuild.
    let dir = tempfile::tempdir().unwrap();
    site(dir.path());
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(dir.path().join("pkg/storefront.wasm"), "\0asm rebuilt").unwrap();
    let app = spawn_with_site(Some(WEBHOOK_SECRET), &[], Some(dir.path())).await;
    let (_, page) = app.page("/").await;
    assert!(page.contains(r#"href="/pkg/storefront.css""#), "{page}");
    assert!(!page.contains(HASHED), "{page}");
}
