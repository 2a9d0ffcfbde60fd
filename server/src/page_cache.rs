//! Whole catalog pages kept for visitors without a session: `/`, `/?page=N` and
//! `/products/<slug>` read the same for everyone who is not signed in and has no checkout open,
//! so the first such visitor's page is kept and sent to the next ones without rendering it
//! again. Only the nonce differs per response: each copy sent gets a fresh one.
//!
//! A browser asks for the page compressed, and compressing it again for every copy would cost
//! more than rendering it. So a kept page is also deflated once, in the pieces between its
//! nonces, and each gzip copy is those pieces in order with its fresh nonce between them as
//! stored (uncompressed) deflate blocks: one stream, valid gzip, with only a CRC to compute.
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

use crate::assets::accepts;

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
    /// The page deflated, for browsers that take gzip (`None` if deflating failed).
    gzip: Option<Arc<Gzipped>>,
}

/// A page's text between its nonces, each piece deflated on its own (no piece refers back into
/// another, since a nonce of a different length may sit between them) and ended on a byte
/// boundary without closing the stream.
struct Gzipped {
    /// The raw pieces, for each copy's CRC.
    raw: Vec<Bytes>,
    deflated: Vec<Vec<u8>>,
}

impl Gzipped {
    fn new(body: &Bytes, nonce: Option<&str>) -> std::io::Result<Self> {
        let raw: Vec<Bytes> = match nonce {
            // A page with a nonce is text: `nonce_in` read it as such.
            Some(nonce) => {
                let text = std::str::from_utf8(body).map_err(std::io::Error::other)?;
                let mut pieces = Vec::new();
                let mut rest = 0;
                for (at, _) in text.match_indices(nonce) {
                    pieces.push(body.slice(rest..at));
                    rest = at + nonce.len();
                }
                pieces.push(body.slice(rest..));
                pieces
            }
            None => vec![body.clone()],
        };
        let deflated = raw
            .iter()
            .map(|piece| deflate_and_sync(piece))
            .collect::<std::io::Result<_>>()?;
        let gzipped = Self { raw, deflated };
        // Read back once, as a browser would: a kept page is sent to every visitor, so a flaw
        // here must cost its gzip copy, never a page.
        let mut check = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&gzipped.with_nonce(nonce.unwrap_or(""))[..]),
            &mut check,
        )?;
        if check.as_bytes() != &body[..] {
            return Err(std::io::Error::other(
                "the gzip copy does not read back as the page",
            ));
        }
        Ok(gzipped)
    }

    /// The whole page as one gzip member, with `nonce` between the pieces.
    fn with_nonce(&self, nonce: &str) -> Vec<u8> {
        // A stored block holds at most 65,535 bytes; a nonce is a few dozen.
        let len = u16::try_from(nonce.len()).expect("a nonce is short");
        let size: usize = self.deflated.iter().map(Vec::len).sum();
        let mut out = Vec::with_capacity(size + self.raw.len() * (nonce.len() + 5) + 20);
        // Magic, deflate, no flags, no time, no extra flags, unknown system.
        out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
        let mut crc = crc32fast::Hasher::new();
        let mut total = 0usize;
        for (n, (raw, deflated)) in self.raw.iter().zip(&self.deflated).enumerate() {
            out.extend_from_slice(deflated);
            crc.update(raw);
            total += raw.len();
            if n + 1 < self.raw.len() {
                // A stored block, not the last: its header byte, LEN and its complement.
                out.push(0);
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(&(!len).to_le_bytes());
                out.extend_from_slice(nonce.as_bytes());
                crc.update(nonce.as_bytes());
                total += nonce.len();
            }
        }
        // The last block: empty, fixed Huffman codes.
        out.extend_from_slice(&[0x03, 0x00]);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        // ISIZE is the length modulo 2^32 (a page is far smaller).
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out
    }
}

/// `piece` deflated on its own and ended with a sync flush: its blocks end on a byte boundary
/// and none is the last, so the stream can go on after it. One call with room for all of it:
/// miniz (flate2's backend) holds back output that does not fit, and a flush that returns with
/// output held back has not written its end (so `write::DeflateEncoder::flush` cannot be used
/// here).
fn deflate_and_sync(piece: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut deflate = flate2::Compress::new(flate2::Compression::default(), false);
    // More than miniz's own block buffer (about 85 KB) beyond the worst case of stored blocks.
    let mut out = Vec::with_capacity(piece.len() + piece.len() / 8 + 128 * 1024);
    deflate
        .compress_vec(piece, &mut out, flate2::FlushCompress::Sync)
        .map_err(std::io::Error::other)?;
    let synced = out.ends_with(&[0, 0, 0xff, 0xff]);
    if deflate.total_in() != piece.len() as u64 || !synced {
        return Err(std::io::Error::other("a page piece was not deflated whole"));
    }
    Ok(out)
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
    if let Some(hit) = cache.hit(&key, generation, accepts(request.headers(), "gzip")) {
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
        let gzip = match Gzipped::new(&body, nonce.as_deref()) {
            Ok(gzip) => Some(Arc::new(gzip)),
            Err(error) => {
                tracing::warn!(%error, "a kept page could not be deflated");
                None
            }
        };
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
                gzip,
            },
        );
    }
    parts
        .headers
        .insert("x-page-cache", HeaderValue::from_static("miss"));
    Response::from_parts(parts, Body::from(body))
}

impl PageCache {
    fn hit(&self, key: &str, generation: u64, gzip: bool) -> Option<Response> {
        let (body, content_type, nonce, gzipped) = {
            let pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
            let kept = pages.get(key).filter(|k| k.generation == generation)?;
            (
                kept.body.clone(),
                kept.content_type.clone(),
                kept.nonce.clone(),
                kept.gzip.clone().filter(|_| gzip),
            )
        };
        let fresh = hex::encode(rand::random::<[u8; 16]>());
        let mut response = if let Some(gzipped) = gzipped {
            let mut response = Response::new(Body::from(gzipped.with_nonce(&fresh)));
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            response
        } else if let Some(old) = nonce {
            Response::new(Body::from(
                String::from_utf8_lossy(&body).replace(&old, &fresh),
            ))
        } else {
            Response::new(Body::from(body))
        };
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, content_type);
        // What is sent depends on what the browser takes (the compression layer says so for
        // what it compresses; it leaves a response already encoded alone).
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
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

    fn gunzip(bytes: &[u8]) -> String {
        use std::io::Read;
        let mut text = String::new();
        // Reads the whole member and checks its CRC and length at the end.
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut text)
            .expect("valid gzip");
        text
    }

    #[test]
    fn a_kept_page_gzipped_in_pieces_reads_as_the_page_with_the_new_nonce() {
        let old = "abcdefghijklmnopqrstuv";
        let page = format!(
            "<html><head><script nonce=\"{old}\">a()</script><style nonce=\"{old}\"></style>\
             </head><body>{}<script nonce=\"{old}\">b()</script></body></html>",
            "<p>The same paragraph, many times over.</p>".repeat(500)
        );
        let body = Bytes::from(page.clone());
        let gzipped = Gzipped::new(&body, Some(old)).unwrap();
        assert_eq!(gzipped.raw.len(), 4, "three nonces, four pieces");
        for fresh in ["0123456789abcdef0123456789abcdef", "x"] {
            let sent = gzipped.with_nonce(fresh);
            assert_eq!(gunzip(&sent), page.replace(old, fresh));
            assert!(sent.len() < page.len() / 10, "{} bytes", sent.len());
        }
        // Each copy has its own nonce, and nothing else differs.
        let (a, b) = (
            gzipped.with_nonce("first-nonce"),
            gzipped.with_nonce("other-nonce"),
        );
        assert_ne!(gunzip(&a), gunzip(&b));
        assert_eq!(
            gunzip(&a).replace("first-nonce", "N"),
            gunzip(&b).replace("other-nonce", "N")
        );
        // A page without a nonce is one piece.
        let plain = Bytes::from_static(b"<p>no scripts</p>");
        assert_eq!(
            gunzip(&Gzipped::new(&plain, None).unwrap().with_nonce("")),
            "<p>no scripts</p>"
        );
    }

    #[test]
    fn a_large_page_gzipped_in_pieces_reads_back_whole() {
        // Text that compresses as a page does (words, not one repeated line), long enough for
        // many deflate blocks, cut at lengths across a range so a block's end falls at different
        // places near a piece's end.
        let words = [
            "<li>",
            "</li>",
            "product",
            "price",
            "class=\"card\"",
            "1,500",
            "a",
            "the",
        ];
        let mut seed = 7u64;
        let mut text = String::new();
        while text.len() < 420_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            text.push_str(words[(seed >> 33) as usize % words.len()]);
            text.push_str(&((seed >> 20) % 1000).to_string());
            text.push(' ');
        }
        let nonce = "abcdefghijklmnopqrstuv";
        for cut in (0..24).map(|n| 380_000 + n * 1_531) {
            let page = format!("<script nonce=\"{nonce}\"></script>{}", &text[..cut]);
            let body = Bytes::from(page.clone());
            let gzipped = Gzipped::new(&body, Some(nonce)).expect("deflated and read back");
            assert_eq!(
                gunzip(&gzipped.with_nonce("fresh")),
                page.replace(nonce, "fresh")
            );
        }
    }

    #[test]
    fn gzip_is_sent_only_to_a_browser_that_takes_it() {
        let asking = |value: &str| {
            let request = Request::builder()
                .uri("/")
                .header(header::ACCEPT_ENCODING, value)
                .body(Body::empty())
                .unwrap();
            accepts(request.headers(), "gzip")
        };
        assert!(asking("gzip, deflate, br, zstd"));
        assert!(asking("br;q=1.0, GZIP;q=0.5"));
        assert!(!asking("br"));
        assert!(!asking("gzip;q=0"));
        assert!(!asking("gzip; Q=0"));
        assert!(!asking("gzip;q=0.0, br"));
        assert!(!asking("identity"));
        assert!(!accepts(get("/", None).headers(), "gzip"));
    }
}
