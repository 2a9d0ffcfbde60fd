//! Refuses state-changing requests that a browser sent on behalf of another site.
//!
//! Browsers say where a request came from: `Sec-Fetch-Site` (every current browser) and
//! `Origin` (on every cross-origin request and every POST). A POST to a server function from a
//! page of another site is refused with 403, so a hostile page cannot open checkouts or change
//! an order in a shopper's name. Requests that carry neither header do not come from a browser
//! page (curl, Stripe, the tests' HTTP client) and pass; so do GET, HEAD and OPTIONS, which
//! change nothing. The Stripe webhook is exempt: Stripe is another origin by design, and its
//! requests are verified by signature instead.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn refuse_cross_origin(request: Request, next: Next) -> Response {
    if allowed(request.method(), request.uri().path(), request.headers()) {
        return next.run(request).await;
    }
    tracing::warn!(
        path = request.uri().path(),
        origin = ?request.headers().get(header::ORIGIN),
        sec_fetch_site = ?request.headers().get("sec-fetch-site"),
        "refused a cross-origin request"
    );
    (
        StatusCode::FORBIDDEN,
        "This request came from another site and was refused.",
    )
        .into_response()
}

fn allowed(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) || path == "/webhooks/stripe"
    {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        // `none` is the shopper's own action (typed URL, bookmark).
        return matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            let origin_host = origin
                .to_str()
                .ok()
                .and_then(|o| o.split_once("://"))
                .map(|(_, rest)| rest);
            host.is_some() && origin_host == host
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn reads_and_the_webhook_always_pass() {
        let evil = headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.test"),
        ]);
        assert!(allowed(&Method::GET, "/api/get_order", &evil));
        assert!(allowed(&Method::POST, "/webhooks/stripe", &evil));
    }

    #[test]
    fn a_post_from_another_site_is_refused() {
        let post = |h| allowed(&Method::POST, "/api/start_checkout", &h);
        assert!(!post(headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!post(headers(&[("sec-fetch-site", "same-site")])));
        assert!(!post(headers(&[
            ("origin", "https://evil.test"),
            ("host", "shop.test")
        ])));
        assert!(!post(headers(&[("origin", "null"), ("host", "shop.test")])));
    }

    #[test]
    fn a_post_from_the_shop_itself_or_no_browser_passes() {
        let post = |h| allowed(&Method::POST, "/api/start_checkout", &h);
        assert!(post(headers(&[("sec-fetch-site", "same-origin")])));
        assert!(post(headers(&[
            ("origin", "http://shop.test"),
            ("host", "shop.test")
        ])));
        assert!(post(headers(&[])));
    }
}
