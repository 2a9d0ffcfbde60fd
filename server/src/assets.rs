//! The site's assets under `/pkg` (the hydration script, the wasm bundle, the stylesheet),
//! served from their directory by tower-http's `ServeDir` rather than through the app's
//! fallback: a browser that accepts brotli or gzip gets the copy `scripts/build-site.sh` made at
//! build time, and one that has the file gets 304 from its `Last-Modified`.
//!
//! Names that carry their content's hash (`storefront.<hash>.wasm`) never change meaning, so
//! browsers keep them for a year without asking (`immutable`); other names are checked each
//! time (`no-cache`). The hashed files, and their compressed copies, are read into memory at
//! start and answered from there: `ServeDir` opens, reads and closes a file (and looks for its
//! `.br` copy) for every request, which held the stylesheet to a third of the rate of an empty
//! answer (bench/RESULTS.md).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use app::state::AppState;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use leptos::config::LeptosOptions;
use tower_http::services::ServeDir;

/// The file `scripts/build-site.sh` writes the hashed name to.
const NAME_FILE: &str = "asset-name";

fn pkg_dir(options: &LeptosOptions) -> PathBuf {
    Path::new(&*options.site_root).join(&*options.site_pkg_dir)
}

/// `storefront.<16 hex digits>`, when the site holds content-hashed copies of its assets that
/// are at least as new as the plain ones (a `cargo leptos watch` rebuild writes only the plain
/// names, and must not be hidden behind older hashed copies).
pub fn hashed_name(options: &LeptosOptions) -> Option<String> {
    let dir = pkg_dir(options);
    let name = std::fs::read_to_string(dir.join(NAME_FILE)).ok()?;
    let name = name.trim();
    let hash = name.strip_prefix(&format!("{}.", options.output_name))?;
    if hash.len() != 16 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let modified = |file: String| std::fs::metadata(dir.join(file)).and_then(|m| m.modified());
    for ext in ["js", "wasm", "css"] {
        let hashed = modified(format!("{name}.{ext}")).ok()?;
        if let Ok(plain) = modified(format!("{}.{ext}", options.output_name))
            && plain > hashed
        {
            tracing::warn!(
                "{}.{ext} is newer than {name}.{ext}: serving the plain names",
                options.output_name
            );
            return None;
        }
    }
    Some(name.to_string())
}

/// `/pkg/…` from the site's directory, with precompressed copies and cache headers.
pub fn routes(options: &LeptosOptions) -> Router<AppState> {
    let hashed: Option<Arc<str>> = options
        .output_name
        .contains('.')
        .then(|| options.output_name.clone());
    let kept = Kept::read(&pkg_dir(options), hashed.as_deref());
    let files = ServeDir::new(pkg_dir(options))
        .precompressed_br()
        .precompressed_gzip();
    Router::new()
        .nest_service(&format!("/{}", options.site_pkg_dir), files)
        .layer(axum::middleware::from_fn_with_state(kept, from_memory))
        .layer(axum::middleware::from_fn_with_state(hashed, cache_for))
}

/// The content-hashed files by name, as read at start.
#[derive(Clone, Default)]
struct Kept(Arc<HashMap<String, KeptFile>>);

struct KeptFile {
    content_type: &'static str,
    /// Whole seconds, as `Last-Modified` carries it.
    modified: SystemTime,
    /// `modified` as the header says it, written once.
    last_modified: HeaderValue,
    plain: Bytes,
    brotli: Option<Bytes>,
    gzip: Option<Bytes>,
}

impl Kept {
    /// Reads `<hashed>.js`, `.wasm` and `.css` and their `.br` and `.gz` copies from `dir`.
    /// A file that cannot be read is left to `ServeDir`.
    fn read(dir: &Path, hashed: Option<&str>) -> Self {
        let Some(name) = hashed else {
            return Self::default();
        };
        let read = |file: &str| std::fs::read(dir.join(file)).ok().map(Bytes::from);
        let mut files = HashMap::new();
        for (ext, content_type) in [
            ("js", "text/javascript"),
            ("wasm", "application/wasm"),
            ("css", "text/css"),
        ] {
            let file = format!("{name}.{ext}");
            let modified = std::fs::metadata(dir.join(&file)).and_then(|m| m.modified());
            let (Some(plain), Ok(modified)) = (read(&file), modified) else {
                continue;
            };
            let seconds = modified
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let modified = UNIX_EPOCH + Duration::from_secs(seconds);
            let Ok(last_modified) = HeaderValue::from_str(&httpdate::fmt_http_date(modified))
            else {
                continue;
            };
            files.insert(
                file.clone(),
                KeptFile {
                    content_type,
                    modified,
                    last_modified,
                    plain,
                    brotli: read(&format!("{file}.br")),
                    gzip: read(&format!("{file}.gz")),
                },
            );
        }
        Self(Arc::new(files))
    }
}

/// Whether `Accept-Encoding` takes `coding` (named, and not with `q=0`; `q` in either case).
pub(crate) fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let weight = parts
                .filter_map(|p| {
                    let p = p.trim();
                    p.strip_prefix("q=").or_else(|| p.strip_prefix("Q="))
                })
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            name.eq_ignore_ascii_case(coding) && weight > 0.0
        })
}

/// Answers a kept file from memory, as `ServeDir` would from the disk: its brotli or gzip copy
/// when the browser takes it, 304 when the browser's copy is as new. Anything else goes on.
async fn from_memory(State(kept): State<Kept>, request: Request, next: Next) -> Response {
    let name = request.uri().path().rsplit('/').next().unwrap_or_default();
    let read = matches!(*request.method(), Method::GET | Method::HEAD);
    let Some(file) = kept.0.get(name).filter(|_| read) else {
        return next.run(request).await;
    };
    let headers = request.headers();
    let mut response = Response::new(Body::empty());
    let unchanged = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .is_some_and(|since| since >= file.modified);
    if unchanged {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
    } else {
        let (body, encoding) = match (&file.brotli, &file.gzip) {
            (Some(br), _) if accepts(headers, "br") => (br.clone(), Some("br")),
            (_, Some(gz)) if accepts(headers, "gzip") => (gz.clone(), Some("gzip")),
            _ => (file.plain.clone(), None),
        };
        let out = response.headers_mut();
        out.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(file.content_type),
        );
        out.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        if let Some(encoding) = encoding {
            out.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        *response.body_mut() = Body::from(body);
    }
    response
        .headers_mut()
        .insert(header::LAST_MODIFIED, file.last_modified.clone());
    response
}

/// `immutable` for a content-hashed name, `no-cache` for any other.
async fn cache_for(
    State(hashed): State<Option<Arc<str>>>,
    request: Request,
    next: Next,
) -> Response {
    let file = request.uri().path().rsplit('/').next().unwrap_or_default();
    let immutable = hashed.as_deref().is_some_and(|name| {
        file.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('.'))
    });
    let mut response = next.run(request).await;
    // Shared caches must keep the brotli, gzip and plain copies apart.
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if immutable {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            }),
        );
    }
    response
}
