//! The site's assets under `/pkg` (the hydration script, the wasm bundle, the stylesheet),
//! served from their directory by tower-http's `ServeDir` rather than through the app's
//! fallback: a browser that accepts brotli or gzip gets the copy `scripts/build-site.sh` made at
//! build time, and one that has the file gets 304 from its `Last-Modified`.
//!
//! Names that carry their content's hash (`storefront.<hash>.wasm`) never change meaning, so
//! browsers keep them for a year without asking (`immutable`); other names are checked each
//! time (`no-cache`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use app::state::AppState;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
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
    let files = ServeDir::new(pkg_dir(options))
        .precompressed_br()
        .precompressed_gzip();
    Router::new()
        .nest_service(&format!("/{}", options.site_pkg_dir), files)
        .layer(axum::middleware::from_fn_with_state(hashed, cache_for))
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
