//! What every shopper page shares (header, footer, error pages in the shop's layout), what a
//! product page says before anyone buys, the seller's policy pages, and what search engines and
//! link previews read: metadata, `schema.org/Product` data, the sitemap and robots.txt.

use reqwest::StatusCode;

use crate::helpers::{TestApp, WEBHOOK_SECRET, spawn, spawn_with_env};

const RECORDINGS: &str = "/products/field-recordings-vol-1";

async fn grain_and_tone(extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("SHOP_NAME", "Grain & Tone"),
        ("SHOP_CONTACT_EMAIL", "help@grain.example"),
        ("PUBLIC_URL", "https://grain.example"),
    ];
    vars.extend_from_slice(extra);
    spawn_with_env(Some(WEBHOOK_SECRET), &vars).await
}

/// The text between `start` and the next `end` after it.
fn between<'a>(page: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = page.find(start)? + start.len();
    let len = page[from..].find(end)?;
    Some(&page[from..from + len])
}

#[tokio::test]
async fn every_page_has_the_shops_header_footer_a_skip_link_and_stripe_js_loaded_async() {
    let app = grain_and_tone(&[]).await;
    for path in ["/", RECORDINGS, "/sign-in", "/terms", "/no-such-page"] {
        let (_, page) = app.page(path).await;
        assert!(
            page.contains(r##"<a href="#main" class="skip-link">Skip to content</a>"##),
            "{path}: {page}"
        );
        assert!(page.contains(r#"<main id="main""#), "{path}");
        assert!(
            page.contains(r#"<a href="/" class="brand">Grain &amp; Tone</a>"#),
            "{path}: {page}"
        );
        assert!(page.contains(r#"<a href="/">Catalog</a>"#), "{path}");
        for link in [
            r#"href="/terms""#,
            r#"href="/refund-policy""#,
            r#"href="/privacy""#,
            r#"href="mailto:help@grain.example""#,
        ] {
            assert!(page.contains(link), "{path} has no {link}");
        }
        // Stripe.js is on every page, as Stripe asks, but never holds up the page's parsing
        // (and the hydration script after it) on a slow network.
        let stripe_js = between(&page, "<script src=\"", ">").unwrap_or_default();
        assert!(
            stripe_js.contains("/v3/") && stripe_js.contains(" async"),
            "{path}: Stripe.js is loaded as <script src=\"{stripe_js}>"
        );
    }
    let (_, product) = app.page(RECORDINGS).await;
    assert!(
        product.contains("<title>Field Recordings, Vol. 1 · Grain &amp; Tone</title>"),
        "{product}"
    );
    let (_, home) = app.page("/").await;
    assert!(home.contains("<title>Grain &amp; Tone</title>"), "{home}");
}

#[tokio::test]
async fn an_unknown_address_answers_404_in_the_shops_layout_with_a_way_back() {
    let app = spawn().await;
    for path in ["/no-such-page", "/products/no-such-product"] {
        let (status, page) = app.page(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.contains("<h1>Page not found</h1>"), "{path}: {page}");
        assert!(page.contains(r#"<section class="problem">"#), "{path}");
        assert!(
            page.contains("<title>Page not found · storefront</title>"),
            "{path}: {page}"
        );
        assert!(
            page.contains(r#"<a href="/">Back to the catalog</a>"#),
            "{path}"
        );
        assert!(page.contains(r#"class="site-footer""#), "{path}");
    }
}

#[tokio::test]
async fn a_failure_reading_the_catalog_answers_500_in_the_layout_and_shows_nothing_of_its_cause() {
    let app = spawn().await;
    // The catalog's query reads this table; nothing has read the catalog yet, so no copy of it
    // is kept.
    sqlx::query("alter table product_file rename to product_file_gone")
        .execute(&app.pool)
        .await
        .unwrap();
    let (status, page) = app.page("/").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(page.contains("<h1>Something went wrong</h1>"), "{page}");
    assert!(
        page.contains("<title>Something went wrong · storefront</title>"),
        "{page}"
    );
    assert!(
        page.contains("Something went wrong on our side. Please try again in a moment."),
        "{page}"
    );
    assert!(
        page.contains(r#"<a href="/">Back to the catalog</a>"#),
        "{page}"
    );
    assert!(
        !page.contains("product_file"),
        "no detail reaches the page: {page}"
    );
}

#[tokio::test]
async fn a_product_page_says_what_the_buyer_gets_and_how_refunds_work() {
    let app = spawn_with_env(Some(WEBHOOK_SECRET), &[("REFUND_WINDOW_DAYS", "30")]).await;
    let (_, page) = app.page(RECORDINGS).await;
    // The demo's recording is a 3-second WAV of 264,644 bytes.
    assert!(page.contains("WAV, 265 KB"), "{page}");
    assert!(page.contains("Refundable within 30 days."), "{page}");
    assert!(
        page.contains(r#"<a href="/refund-policy">Refund policy</a>"#),
        "{page}"
    );
    // No preview uploaded: a placeholder with the title's initials, hidden from screen readers.
    let placeholder = between(&page, "<svg ", "</svg>").unwrap();
    assert!(
        placeholder.contains(r#"class="preview placeholder""#),
        "{placeholder}"
    );
    assert!(
        placeholder.contains(r#"aria-hidden="true""#),
        "{placeholder}"
    );
    assert!(placeholder.contains(">FR</text>"), "{placeholder}");

    let (_, pack) = app.page("/products/api-credits-1000").await;
    assert!(
        pack.contains("Adds 1,000 credits to your balance."),
        "{pack}"
    );
    let (_, membership) = app.page("/products/studio-membership").await;
    assert!(
        membership.contains("30-day membership, one payment, no renewal"),
        "{membership}"
    );

    // A replaced file shows at once: the catalog's copy is dropped when the file changes.
    sqlx::query(
        "update product_file set filename = 'field-recordings.zip', size_bytes = 2400000
         where product_id = (select id from product where slug = 'field-recordings-vol-1')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let page = app
        .page_until(RECORDINGS, |p| p.contains("ZIP, 2.4 MB"))
        .await;
    assert!(page.contains("ZIP, 2.4 MB"), "{page}");
}

#[tokio::test]
async fn a_product_page_tells_search_engines_and_link_previews_what_it_sells() {
    let app = grain_and_tone(&[]).await;
    let (_, page) = app.page(RECORDINGS).await;
    let url = "https://grain.example/products/field-recordings-vol-1";
    assert!(
        page.contains(&format!(r#"<link href="{url}" rel="canonical">"#)),
        "{page}"
    );
    assert!(page.contains(&format!(r#"<meta property="og:url" content="{url}""#)));
    assert!(page.contains(r#"<meta property="og:type" content="product""#));
    assert!(page.contains(r#"<meta property="og:title" content="Field Recordings, Vol. 1""#));
    assert!(page.contains(r#"<meta property="og:site_name" content="Grain &amp; Tone""#));
    let description = between(&page, r#"<meta name="description" content=""#, "\"").unwrap();
    assert!(!description.is_empty() && description.chars().count() <= 160);
    assert!(
        !description.contains('*') && !description.contains('<'),
        "{description}"
    );

    let json = between(&page, r#"<script type="application/ld+json">"#, "</script>").unwrap();
    let data: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(data["@type"], "Product");
    assert_eq!(data["name"], "Field Recordings, Vol. 1");
    assert_eq!(data["url"], url);
    assert_eq!(data["offers"]["price"], "12.00");
    assert_eq!(data["offers"]["priceCurrency"], "USD");
    // Yen have no minor unit.
    let (_, presets) = app.page("/products/tokyo-night-presets").await;
    let json = between(
        &presets,
        r#"<script type="application/ld+json">"#,
        "</script>",
    )
    .unwrap();
    let data: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(data["offers"]["price"], "1500");
    assert_eq!(data["offers"]["priceCurrency"], "JPY");
}

#[tokio::test]
async fn a_hostile_product_title_stays_text_in_the_title_metadata_and_product_data() {
    let app = spawn().await;
    let hostile = r#"Rec" onmouseover="x" </script><script>alert(1)</script>"#;
    sqlx::query(
        "update product set title = $1, description = $1 where slug = 'field-recordings-vol-1'",
    )
    .bind(hostile)
    .execute(&app.pool)
    .await
    .unwrap();
    let page = app
        .page_until(RECORDINGS, |p| p.contains("onmouseover"))
        .await;
    assert!(!page.contains("<script>alert(1)"), "{page}");
    // In an attribute (og:title, the description) the quote stays inside the value.
    assert!(!page.contains(r#"content="Rec" "#), "{page}");
    let json = between(&page, r#"<script type="application/ld+json">"#, "</script>").unwrap();
    let data: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(data["name"], hostile);
}

#[tokio::test]
async fn the_sitemap_lists_what_is_for_sale_and_robots_points_to_it() {
    let app = grain_and_tone(&[]).await;
    sqlx::query("update product set published = false where slug = 'tokyo-night-presets'")
        .execute(&app.pool)
        .await
        .unwrap();
    let resp = app
        .http
        .get(format!("{}/sitemap.xml", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    let xml = resp.text().await.unwrap();
    assert!(xml.contains(r#"<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">"#));
    assert!(
        xml.contains("<url><loc>https://grain.example/</loc></url>"),
        "{xml}"
    );
    assert!(
        xml.contains("<loc>https://grain.example/products/field-recordings-vol-1</loc><lastmod>"),
        "{xml}"
    );
    assert!(
        xml.contains("<loc>https://grain.example/refund-policy</loc>"),
        "{xml}"
    );
    assert!(!xml.contains("tokyo-night-presets"), "unpublished: {xml}");

    let robots = app
        .http
        .get(format!("{}/robots.txt", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(robots.starts_with("User-agent: *\n"), "{robots}");
    for private in ["/admin", "/account", "/library", "/orders/", "/api/"] {
        assert!(
            robots.contains(&format!("Disallow: {private}\n")),
            "{robots}"
        );
    }
    assert!(!robots.contains("Disallow: /\n") && !robots.contains("Disallow: /products"));
    assert!(
        robots.contains("Sitemap: https://grain.example/sitemap.xml"),
        "{robots}"
    );
}

#[tokio::test]
async fn policy_pages_show_the_sellers_own_text_or_the_built_in_one_filled_in() {
    let content = tempfile::tempdir().unwrap();
    std::fs::write(
        content.path().join("terms.md"),
        "# Our terms\n\nEverything {{shop_name}} sells is made by hand.\n",
    )
    .unwrap();
    let dir = content.path().display().to_string();
    let app = grain_and_tone(&[("CONTENT_DIR", &dir), ("REFUND_WINDOW_DAYS", "30")]).await;

    let (status, terms) = app.page("/terms").await;
    assert_eq!(status, StatusCode::OK);
    assert!(terms.contains("<h1>Our terms</h1>"), "{terms}");
    assert!(
        terms.contains("Everything Grain &amp; Tone sells is made by hand."),
        "{terms}"
    );
    assert!(
        terms.contains("<title>Terms of sale · Grain &amp; Tone</title>"),
        "{terms}"
    );

    let (_, refunds) = app.page("/refund-policy").await;
    assert!(refunds.contains("<h1>Refund policy</h1>"), "{refunds}");
    assert!(refunds.contains("within 30 days of paying"), "{refunds}");
    assert!(refunds.contains("mailto:help@grain.example"), "{refunds}");
    assert!(!refunds.contains("{{"), "{refunds}");

    // The built-in text until the seller writes one; an edit shows without a restart.
    let (_, privacy) = app.page("/privacy").await;
    assert!(
        privacy.contains("There are no advertising or tracking cookies."),
        "{privacy}"
    );
    std::fs::write(content.path().join("privacy.md"), "We keep nothing.\n").unwrap();
    let (_, privacy) = app.page("/privacy").await;
    assert!(privacy.contains("We keep nothing."), "{privacy}");
    // A text without a heading of its own gets the policy's name.
    assert!(privacy.contains("<h1>Privacy</h1>"), "{privacy}");
    assert!(
        privacy.contains(r#"<link href="https://grain.example/privacy" rel="canonical">"#),
        "{privacy}"
    );
}

#[tokio::test]
async fn absolute_links_never_take_the_host_a_request_names() {
    // Without PUBLIC_URL, the address the shop listens on.
    let app = spawn().await;
    let forged = |path: &str| {
        app.http
            .get(format!("{}{path}", app.base))
            .header(reqwest::header::HOST, "evil.example")
            .send()
    };
    let page = forged(RECORDINGS).await.unwrap().text().await.unwrap();
    assert!(
        page.contains(&format!(
            r#"<link href="{}{RECORDINGS}" rel="canonical">"#,
            app.base
        )),
        "{page}"
    );
    assert!(!page.contains("evil.example"), "{page}");
    let robots = forged("/robots.txt").await.unwrap().text().await.unwrap();
    assert!(
        robots.contains(&format!("Sitemap: {}/sitemap.xml", app.base)),
        "{robots}"
    );
    let sitemap = forged("/sitemap.xml").await.unwrap().text().await.unwrap();
    assert!(!sitemap.contains("evil.example"), "{sitemap}");
    assert!(
        sitemap.contains(&format!("<loc>{}/</loc>", app.base)),
        "{sitemap}"
    );
}

#[tokio::test]
async fn the_catalog_shows_24_products_a_page_with_links_a_crawler_can_follow() {
    let app = spawn().await;
    // The demo's five, and thirty more: two pages.
    sqlx::query(
        "insert into product (slug, title, description, kind, price_minor, currency, published)
         select 'extra-' || n, 'Extra ' || n, 'More.', 'membership', 500, 'usd', true
         from generate_series(1, 30) n",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let cards = |page: &str| page.matches(r#"<li class="product-card">"#).count();

    let first = app.page_until("/", |p| p.contains("Page 2")).await;
    assert_eq!(cards(&first), 24, "{first}");
    assert!(
        first.contains(r#"<a href="/?page=2" rel="next">"#),
        "{first}"
    );
    assert!(!first.contains(r#"rel="prev""#), "{first}");
    assert!(first.contains(r#"aria-current="page""#), "{first}");

    let (status, second) = app.page("/?page=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cards(&second), 11, "{second}");
    assert!(second.contains(r#"<a href="/" rel="prev">"#), "{second}");
    assert!(!second.contains(r#"rel="next""#), "{second}");
    assert!(
        second.contains("<title>Digital goods, page 2 · storefront</title>"),
        "{second}"
    );
    assert!(second.contains(&format!(
        r#"<link href="{}/?page=2" rel="canonical">"#,
        app.base
    )));
    // Every product is on exactly one page.
    for n in 1..=30 {
        let link = format!(r#"href="/products/extra-{n}""#);
        assert_eq!(
            first.matches(&link).count() + second.matches(&link).count(),
            1,
            "extra-{n}"
        );
    }

    for missing in [
        "/?page=3",
        "/?page=0",
        "/?page=two",
        "/?page=02",
        "/?page=+2",
    ] {
        let (status, page) = app.page(missing).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
        assert!(page.contains("<h1>Page not found</h1>"), "{missing}");
    }
}

/// `path` fetched by a browser with no cookies: whether it came from the kept copies, and the
/// page.
async fn anonymous(app: &TestApp, path: &str) -> (Option<String>, String) {
    let resp = reqwest::get(format!("{}{path}", app.base)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    let cache = resp
        .headers()
        .get("x-page-cache")
        .map(|v| v.to_str().unwrap().to_string());
    (cache, resp.text().await.unwrap())
}

fn nonce(page: &str) -> &str {
    between(page, "nonce=\"", "\"").unwrap()
}

#[tokio::test]
async fn catalog_pages_are_kept_for_visitors_without_a_session_each_with_its_own_nonce() {
    let app = spawn().await;
    // Kept once the catalog's changes are heard.
    let mut kept = None;
    for _ in 0..100 {
        let (cache, page) = anonymous(&app, "/").await;
        if cache.as_deref() == Some("hit") {
            kept = Some(page);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let kept = kept.expect("the catalog page was never served from the kept copy");
    let (cache, again) = anonymous(&app, "/").await;
    assert_eq!(cache.as_deref(), Some("hit"));
    assert_ne!(nonce(&kept), nonce(&again), "each copy gets its own nonce");
    assert_eq!(
        kept.replace(nonce(&kept), "N"),
        again.replace(nonce(&again), "N")
    );
    // A browser taking gzip gets the kept page deflated, still with a nonce of its own.
    let mut gzipped = Vec::new();
    for _ in 0..2 {
        let resp = reqwest::Client::new()
            .get(format!("{}/", app.base))
            .header("accept-encoding", "gzip, deflate, br, zstd")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
        };
        assert_eq!(header("x-page-cache").as_deref(), Some("hit"));
        assert_eq!(header("content-encoding").as_deref(), Some("gzip"));
        assert_eq!(header("vary").as_deref(), Some("accept-encoding"));
        let bytes = resp.bytes().await.unwrap();
        assert!(bytes.len() < kept.len() / 3, "{} bytes", bytes.len());
        let mut page = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut page)
            .expect("a whole gzip stream with its checksum");
        gzipped.push(page);
    }
    assert_ne!(nonce(&gzipped[0]), nonce(&gzipped[1]));
    assert_ne!(nonce(&gzipped[0]), nonce(&kept));
    for page in &gzipped {
        assert_eq!(
            page.replace(nonce(page), "N"),
            kept.replace(nonce(&kept), "N")
        );
    }
    assert!(kept.contains(r#"<a href="/sign-in">Sign in</a>"#), "{kept}");

    // A signed-in shopper gets their own page, never the kept one.
    let shopper = crate::helpers::verified_account(
        &app,
        &crate::helpers::mail_catcher(),
        &crate::helpers::unique_address("kept"),
    )
    .await;
    let resp = shopper.get(format!("{}/", app.base)).send().await.unwrap();
    assert!(resp.headers().get("x-page-cache").is_none());
    let own = resp.text().await.unwrap();
    assert!(
        own.contains("Your account") && !own.contains(">Sign in<"),
        "{own}"
    );

    // A price change drops every kept page.
    let (_, product) = anonymous(&app, "/products/tokyo-night-presets").await;
    assert!(product.contains("¥1,500"), "{product}");
    sqlx::query("update product set price_minor = 1800 where slug = 'tokyo-night-presets'")
        .execute(&app.pool)
        .await
        .unwrap();
    let mut fresh = None;
    for _ in 0..100 {
        let (_, page) = anonymous(&app, "/products/tokyo-night-presets").await;
        if page.contains("¥1,800") {
            fresh = Some(page);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let fresh = fresh.expect("the new price never showed");
    assert!(!fresh.contains("¥1,500"), "{fresh}");
    let (_, home) = anonymous(&app, "/").await;
    assert!(
        home.contains("¥1,800") && !home.contains("¥1,500"),
        "{home}"
    );
}

/// Every build here is made with `LEPTOS_WATCH` set (.cargo/config.toml, so that
/// `cargo leptos watch` reuses it), and cargo sets it for this test process too (as
/// scripts/repeat-tests.sh does); still, only a server that cargo-leptos runs sends its
/// live-reload script.
#[tokio::test]
async fn pages_carry_no_live_reload_script_unless_cargo_leptos_runs_the_server() {
    let app = spawn().await;
    for path in ["/", "/products/tokyo-night-presets", "/sign-in"] {
        let (status, page) = app.page(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!page.contains("/live_reload"), "{path}: {page}");
    }
}
