//! Whole catalog pages kept for visitors without a session: `/`, `/?page=N` and
//! `/products/<slug>` read the same for everyone who is not signed in and has no checkout open,
//! so the first such visitor's page is kept and sent to the next ones without rendering it
//! again. Only the nonce differs per response: each copy sent gets a fresh one.
//!
//! A kept page belongs to a generation of the catalog's in-memory copy (`CatalogCache`): a
//! `catalog_changed` notification moves the generation and every kept page is stale at once;
//! while notifications are not heard, nothing is kept or served. Anything else a page shows
//! (the shop's name, its refund window, test mode) is fixed for the life of the process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use app::catalog::cache::CatalogCache;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// More distinct pages than this (a catalog of thousands) and the oldest generation's are
/// dropped all at once; the next visits render them again.
const MOST_PAGES: usize = 4096;

#[derive(Clone)]
pub struct PageCache {
    catalog: CatalogCache,
    pages: Arc<Mutex<HashMap<String, Kept>>>,
}

struct Kept {
    generation: u64,
    body: Bytes,
    content_type: HeaderValue,
    /// The nonce the page was rendered with, replaced in every copy sent.
    nonce: Option<String>,
}

impl PageCache {
    pub fn new(catalog: CatalogCache) -> Self {
        Self {
            catalog,
            pages: Arc::default(),
        }
    }
}

/// The key a request's page is kept under, if it may be: a GET of the catalog or a product
/// page, with no query but the page number, from a browser with no session.
fn key(request: &Request) -> Option<String> {
    if request.method() != Method::GET {
        return None;
    }
    let has_session = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .any(|c| c.to_str().map_or(true, |c| c.contains("sf_session")));
    if has_session {
        return None;
    }
    // The key is made from the path and the page number alone, never from the request's
    // whole target (`GET http://any-host/` would make a new key for each made-up host).
    let uri = request.uri();
    let path = uri.path();
    match (path, uri.query()) {
        ("/", None) => Some("/".to_string()),
        ("/", Some(query)) => {
            let n = query.strip_prefix("page=")?;
            let canonical = !n.is_empty()
                && n.len() <= 6
                && !n.starts_with('0')
                && n.bytes().all(|b| b.is_ascii_digit());
            canonical.then(|| format!("/?page={n}"))
        }
        (path, None) => {
            let slug = path.strip_prefix("/products/")?;
            let plain = !slug.is_empty()
                && slug.len() <= 80
                && slug
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            plain.then(|| path.to_string())
        }
        _ => None,
    }
}

pub async fn serve(State(cache): State<PageCache>, request: Request, next: Next) -> Response {
    let (Some(key), Some(generation)) = (key(&request), cache.catalog.generation()) else {
        return next.run(request).await;
    };
    if let Some(hit) = cache.hit(&key, generation) {
        return hit;
    }
    let response = next.run(request).await;
    // Only a plain page: one that set a cookie or said not to keep it is this visitor's.
    let personal = response.headers().contains_key(header::SET_COOKIE)
        || response
            .headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("private") || v.contains("no-store"));
    if response.status() != StatusCode::OK || personal {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => {
            tracing::warn!(%error, "a page could not be read to keep it");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    // Kept only if the catalog did not change while the page was rendered.
    if cache.catalog.generation() == Some(generation)
        && let Some(content_type) = parts.headers.get(header::CONTENT_TYPE).cloned()
    {
        let nonce = nonce_in(&body);
        let mut pages = cache.pages.lock().unwrap_or_else(|e| e.into_inner());
        if pages.len() >= MOST_PAGES {
            pages.retain(|_, kept| kept.generation == generation);
            if pages.len() >= MOST_PAGES {
                pages.clear();
            }
        }
        pages.insert(
            key,
            Kept {
                generation,
                body: body.clone(),
                content_type,
                nonce,
            },
        );
    }
    parts
        .headers
        .insert("x-page-cache", HeaderValue::from_static("miss"));
    Response::from_parts(parts, Body::from(body))
}

impl PageCache {
    fn hit(&self, key: &str, generation: u64) -> Option<Response> {
        let (body, content_type, nonce) = {
            let pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
            let kept = pages.get(key).filter(|k| k.generation == generation)?;
            (
                kept.body.clone(),
                kept.content_type.clone(),
                kept.nonce.clone(),
            )
        };
        let body = match nonce {
            Some(old) => {
                let fresh = hex::encode(rand::random::<[u8; 16]>());
                let text = String::from_utf8_lossy(&body).replace(&old, &fresh);
                Body::from(text)
            }
            None => Body::from(body),
        };
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, content_type);
        headers.insert("x-page-cache", HeaderValue::from_static("hit"));
        Some(response)
    }
}

/// The value of the first `nonce="…"` in a page.
fn nonce_in(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("nonce=\"")? + "nonce=\"".len();
    let len = text[start..].find('"')?;
    let nonce = &text[start..start + len];
    (nonce.len() >= 16).then(|| nonce.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(uri: &str, cookie: Option<&str>) -> Request {
        let mut request = Request::builder().uri(uri);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.body(Body::empty()).unwrap()
    }

    #[test]
    fn only_catalog_and_product_pages_without_a_session_are_kept() {
        assert_eq!(key(&get("/", None)).as_deref(), Some("/"));
        assert_eq!(key(&get("/?page=2", None)).as_deref(), Some("/?page=2"));
        assert_eq!(
            key(&get("/products/field-recordings-vol-1", None)).as_deref(),
            Some("/products/field-recordings-vol-1")
        );
        for uncached in [
            "/?page=",
            "/?page=02",
            "/?page=+2",
            "/?page=2&x=1",
            "/?utm_source=mail",
            "/products/x?ref=1",
            "/products/X",
            "/account",
            "/library",
            "/terms",
        ] {
            assert_eq!(key(&get(uncached, None)), None, "{uncached}");
        }
        // A request naming its host in the target keeps the same key.
        assert_eq!(
            key(&get("http://made-up.example/", None)).as_deref(),
            Some("/")
        );
        assert_eq!(key(&get("/", Some("sf_session=abc"))), None);
        assert_eq!(key(&get("/", Some("__Host-sf_session=abc"))), None);
        assert_eq!(key(&get("/", Some("theme=dark"))).as_deref(), Some("/"));
        let post = Request::builder()
            .method(Method::POST)
            .uri("/")
            .body(Body::empty())
            .unwrap();
        assert_eq!(key(&post), None);
    }

    #[test]
    fn the_nonce_is_read_from_the_page() {
        assert_eq!(
            nonce_in(br#"<script type="module" nonce="abcdefghijklmnopqrstuv">"#).as_deref(),
            Some("abcdefghijklmnopqrstuv")
        );
        assert_eq!(nonce_in(b"<p>no scripts</p>"), None);
    }
}
