//! Downloads: `GET /library/{order}/download`, the permanent link in a shopper's library, and
//! `GET /orders/{order}/download`, the order page's (a guest's), check who is asking and answer
//! with a short-lived signed link, `GET /files/{link}`, which streams
//! the file from storage (`Content-Length`, `Content-Disposition`, and byte ranges, so a
//! broken download resumes). A link that is edited, expired, or whose order no longer grants
//! the file (refunded, disputed) gets one answer, which does not say whether a file exists.

use app::accounts::{self, Users};
use app::domain::OrderId;
use app::files::{self, Deliverable};
use app::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use object_store::{GetOptions, GetRange};

/// Marks a response the compression layer must leave alone: a file is sent as stored, with
/// its length and byte ranges (compressing on the fly would drop both, and resuming with them).
#[derive(Clone, Copy)]
pub struct SentAsStored;

const REFUSED: &str = "This download link has expired or is not valid. Open your order page or your library for a new one.";
const BUSY: &str = "The shop is busy right now. Please try again in a moment.";

fn refused() -> Response {
    (StatusCode::NOT_FOUND, REFUSED).into_response()
}

fn busy(context: &str, err: impl std::fmt::Display) -> Response {
    tracing::warn!(error = %err, "{context}");
    (StatusCode::SERVICE_UNAVAILABLE, BUSY).into_response()
}

/// The library's permanent link: for the signed-in owner of a live grant, a redirect to a
/// fresh signed link; for anyone else the same refusal; signed out, the sign-in page.
pub async fn from_library(
    State(state): State<AppState>,
    session: tower_sessions::Session,
    Path(order): Path<String>,
) -> Response {
    let Ok(order) = OrderId::parse(&order) else {
        return refused();
    };
    let user = match accounts::signed_in(&session, &Users::new(state.pool.clone())).await {
        Ok(Some(user)) => user,
        Ok(None) => return Redirect::to("/sign-in").into_response(),
        Err(e) => return busy("could not read the session for a download", e),
    };
    to_signed_link(&state, &order, Some(user.id)).await
}

/// The order page's "Download": the link in a guest's receipt, so a buyer without an account
/// gets what they paid for at once. The order's unguessable id is the key, as for the order
/// page itself. An order that belongs to an account is downloaded by that account only (signed
/// out, the sign-in page), as from the library. Either way, a redirect to a fresh signed link.
pub async fn from_order(
    State(state): State<AppState>,
    session: tower_sessions::Session,
    Path(order): Path<String>,
) -> Response {
    let Ok(order) = OrderId::parse(&order) else {
        return refused();
    };
    let owner = match sqlx::query_scalar!(
        "select user_id from customer_order where public_id = $1",
        order.as_str()
    )
    .fetch_optional(&state.pool)
    .await
    {
        Ok(Some(owner)) => owner,
        Ok(None) => return refused(),
        Err(e) => return busy("could not read an order for a download", e),
    };
    if let Some(owner) = owner {
        match accounts::signed_in(&session, &Users::new(state.pool.clone())).await {
            Ok(Some(user)) if user.id == owner => {}
            Ok(Some(_)) => return refused(),
            Ok(None) => return Redirect::to("/sign-in").into_response(),
            Err(e) => return busy("could not read the session for a download", e),
        }
    }
    to_signed_link(&state, &order, owner).await
}

/// A redirect to a fresh signed link for `order`'s file, when its grant is live (and, with
/// `user`, theirs); the refusal otherwise.
async fn to_signed_link(state: &AppState, order: &OrderId, user: Option<i64>) -> Response {
    match files::deliverable(&state.pool, order, user).await {
        Ok(Some(_)) => Redirect::to(&format!("/files/{}", state.files.sign(order))).into_response(),
        Ok(None) => refused(),
        Err(e) => busy("could not check a download", e),
    }
}

/// A signed link: the file, whole or the byte range asked for.
pub async fn signed(
    State(state): State<AppState>,
    Path(link): Path<String>,
    request: HeaderMap,
) -> Response {
    let Some(order) = state.files.verify(&link) else {
        return refused();
    };
    let file = match files::deliverable(&state.pool, &order, None).await {
        Ok(Some(file)) => file,
        Ok(None) => return refused(),
        Err(e) => return busy("could not check a download", e),
    };
    let size = u64::try_from(file.size_bytes).unwrap_or_default();
    // The object's key is the SHA-256 of its bytes: a strong validator. A resumed download
    // whose `If-Range` names other bytes (the product's file was replaced) gets the whole new
    // file rather than the rest of it spliced onto the old one.
    let etag = format!("\"{}\"", file.object_key.trim_start_matches("sha256/"));
    let same_file = request
        .get(header::IF_RANGE)
        .is_none_or(|v| v.to_str().ok() == Some(etag.as_str()));
    let range = match request
        .get(header::RANGE)
        .filter(|_| same_file)
        .and_then(|v| v.to_str().ok())
        .map(|v| byte_range(v, size))
    {
        None | Some(Range::Whole) => None,
        Some(Range::Part(start, end)) => Some((start, end)),
        Some(Range::Unsatisfiable) => {
            let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return response;
        }
    };
    let options = GetOptions {
        range: range.map(|(start, end)| GetRange::Bounded(start..end + 1)),
        ..GetOptions::default()
    };
    let path = object_store::path::Path::from(file.object_key.as_str());
    let got = match state.files.store.get_opts(&path, options).await {
        Ok(got) => got,
        Err(e) => {
            tracing::error!(error = %e, key = %file.object_key, "a paid-for file is missing from storage");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The file could not be read. Please try again later.",
            )
                .into_response();
        }
    };
    tracing::info!(order = %order, bytes = ?range, "download");
    let mut response = Response::new(Body::from_stream(got.into_stream()));
    response.extensions_mut().insert(SentAsStored);
    let headers = response.headers_mut();
    let length = range.map_or(size, |(start, end)| end - start + 1);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    insert(headers, header::ETAG, &etag);
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    insert(headers, header::CONTENT_TYPE, &file.content_type);
    insert(headers, header::CONTENT_DISPOSITION, &disposition(&file));
    if let Some((start, end)) = range {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        insert(
            response.headers_mut(),
            header::CONTENT_RANGE,
            &format!("bytes {start}-{end}/{size}"),
        );
    }
    response
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// `attachment; filename="…"`; the database allows no quote, slash or control character in
/// a filename, and anything outside ASCII is left to `filename*`.
fn disposition(file: &Deliverable) -> String {
    let ascii: String = file
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = file
        .filename
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[derive(Debug, PartialEq, Eq)]
enum Range {
    Whole,
    /// First and last byte, inclusive.
    Part(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range of a file of `size` bytes. Anything this does not take (several ranges,
/// other units, nonsense) is answered with the whole file, as HTTP allows.
fn byte_range(header: &str, size: u64) -> Range {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let parsed = match (first.is_empty(), last.is_empty()) {
        // The last n bytes.
        (true, false) => match last.parse::<u64>() {
            Ok(0) => return Range::Unsatisfiable,
            Ok(n) => (size.saturating_sub(n), size.saturating_sub(1)),
            Err(_) => return Range::Whole,
        },
        (false, true) => match first.parse::<u64>() {
            Ok(start) => (start, size.saturating_sub(1)),
            Err(_) => return Range::Whole,
        },
        (false, false) => match (first.parse::<u64>(), last.parse::<u64>()) {
            (Ok(start), Ok(end)) if start <= end => (start, end.min(size.saturating_sub(1))),
            _ => return Range::Whole,
        },
        (true, true) => return Range::Whole,
    };
    if size == 0 || parsed.0 >= size {
        return Range::Unsatisfiable;
    }
    Range::Part(parsed.0, parsed.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_are_read_as_http_defines_them() {
        assert_eq!(byte_range("bytes=0-99", 1000), Range::Part(0, 99));
        assert_eq!(byte_range("bytes=900-", 1000), Range::Part(900, 999));
        assert_eq!(byte_range("bytes=-100", 1000), Range::Part(900, 999));
        assert_eq!(byte_range("bytes=-5000", 1000), Range::Part(0, 999));
        assert_eq!(byte_range("bytes=990-5000", 1000), Range::Part(990, 999));
        assert_eq!(byte_range("bytes=1000-", 1000), Range::Unsatisfiable);
        assert_eq!(byte_range("bytes=-0", 1000), Range::Unsatisfiable);
        for whole in [
            "bytes=0-1,5-9",
            "items=0-5",
            "bytes=9-2",
            "bytes=x-",
            "bytes=-",
        ] {
            assert_eq!(byte_range(whole, 1000), Range::Whole, "{whole}");
        }
    }
}
