//! What crawlers read first: `/robots.txt` (what not to crawl, and where the sitemap is) and
//! `/sitemap.xml` (the catalog, each published product, and the policy pages).

use app::models::Policy;
use app::state::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Pages that are a shopper's own, or forms and links from mail: nothing a search engine
/// should list.
const PRIVATE: &[&str] = &[
    "/admin",
    "/account",
    "/library",
    "/orders/",
    "/api/",
    "/files/",
    "/sign-in",
    "/sign-up",
    "/forgot-password",
    "/verify-email",
    "/reset-password",
];

pub async fn robots(State(state): State<AppState>) -> Response {
    let mut body = String::from("User-agent: *\n");
    for path in PRIVATE {
        body.push_str(&format!("Disallow: {path}\n"));
    }
    body.push_str(&format!(
        "\nSitemap: {}/sitemap.xml\n",
        state.shop.base_url()
    ));
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

pub async fn sitemap(State(state): State<AppState>) -> Response {
    let products = match sqlx::query!(
        r#"select slug, to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD') as "lastmod!"
           from product where published order by created_at, id"#
    )
    .fetch_all(&state.pool)
    .await
    {
        Ok(rows) => rows,
        Err(error) => {
            tracing::warn!(%error, "could not list products for the sitemap");
            let mut busy = (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
            busy.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            return busy;
        }
    };
    let base = state.shop.base_url();
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    let mut url = |path: &str, lastmod: Option<&str>| {
        let loc = html_escape::encode_text(&format!("{base}{path}")).into_owned();
        xml.push_str(&format!("  <url><loc>{loc}</loc>"));
        if let Some(day) = lastmod {
            xml.push_str(&format!("<lastmod>{day}</lastmod>"));
        }
        xml.push_str("</url>\n");
    };
    url("/", None);
    for product in &products {
        url(
            &format!("/products/{}", product.slug),
            Some(&product.lastmod),
        );
    }
    for policy in Policy::ALL {
        url(&format!("/{}", policy.slug()), None);
    }
    xml.push_str("</urlset>\n");
    (
        [
            (header::CONTENT_TYPE, "application/xml; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=600"),
        ],
        xml,
    )
        .into_response()
}
