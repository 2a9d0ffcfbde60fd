//! The admin's uploads, as plain multipart forms: a product's file
//! (`POST /admin/products/{slug}/file`) and its preview image (`…/preview`).
//!
//! A file is streamed to a temporary file while it is hashed and counted, refused past the size
//! limit, checked by its content against what its name says it is (a `.pdf` must be a PDF), and
//! only then copied into the storage under its SHA-256: a refused, failed or aborted upload
//! leaves nothing in the storage and nothing in the database. A preview must decode as an
//! image; it is resized once, to at most 1200 pixels a side, and kept as a JPEG.
//!
//! Each answer is a redirect back to the product's page, naming the outcome with a fixed word
//! the page turns into a sentence (the URL never carries free text).

use app::accounts::{self, Users};
use app::domain::ProductSlug;
use app::state::AppState;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use object_store::ObjectStoreExt;
use sha2::{Digest, Sha256};

/// The largest preview image taken.
pub const PREVIEW_LIMIT: u64 = 10 * 1024 * 1024;
/// A preview's longest side after resizing.
const PREVIEW_SIDE: u32 = 1200;

/// Why an upload was refused, as the word the product page reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    TooLarge,
    Empty,
    UnknownType,
    Mismatch,
    NotAnImage,
    Failed,
}

impl Refused {
    pub fn code(self) -> &'static str {
        match self {
            Refused::TooLarge => "too_large",
            Refused::Empty => "empty",
            Refused::UnknownType => "unknown_type",
            Refused::Mismatch => "mismatch",
            Refused::NotAnImage => "not_an_image",
            Refused::Failed => "failed",
        }
    }
}

/// A kind of file a product may deliver: what its name ends with, its MIME type, and how its
/// content starts.
struct FileType {
    extensions: &'static [&'static str],
    mime: &'static str,
    matches: fn(&[u8]) -> bool,
}

const TYPES: &[FileType] = &[
    FileType {
        extensions: &["pdf"],
        mime: "application/pdf",
        matches: |h| h.starts_with(b"%PDF-"),
    },
    FileType {
        extensions: &["zip"],
        mime: "application/zip",
        matches: |h| h.starts_with(b"PK\x03\x04"),
    },
    FileType {
        extensions: &["epub"],
        mime: "application/epub+zip",
        matches: |h| h.starts_with(b"PK\x03\x04"),
    },
    FileType {
        extensions: &["flac"],
        mime: "audio/flac",
        matches: |h| h.starts_with(b"fLaC"),
    },
    FileType {
        extensions: &["mp3"],
        mime: "audio/mpeg",
        matches: |h| h.starts_with(b"ID3") || (h.len() > 1 && h[0] == 0xFF && h[1] & 0xE0 == 0xE0),
    },
    FileType {
        extensions: &["wav"],
        mime: "audio/wav",
        matches: |h| h.starts_with(b"RIFF") && h.get(8..12) == Some(b"WAVE"),
    },
    FileType {
        extensions: &["ogg"],
        mime: "audio/ogg",
        matches: |h| h.starts_with(b"OggS"),
    },
    FileType {
        extensions: &["mp4", "m4a", "mov"],
        mime: "video/mp4",
        matches: |h| h.get(4..8) == Some(b"ftyp"),
    },
    FileType {
        extensions: &["png"],
        mime: "image/png",
        matches: |h| h.starts_with(b"\x89PNG\r\n\x1a\n"),
    },
    FileType {
        extensions: &["jpg", "jpeg"],
        mime: "image/jpeg",
        matches: |h| h.starts_with(&[0xFF, 0xD8, 0xFF]),
    },
];

/// What a file named `name` claims to be, if it is a kind the shop delivers.
fn claimed(name: &str) -> Option<&'static FileType> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    TYPES.iter().find(|t| t.extensions.contains(&ext.as_str()))
}

/// The name a buyer's browser saves the file as: the upload's own name, without any path, quote
/// or control character, at most 200 characters.
fn clean_filename(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '/' | '\\'))
        .collect();
    let cleaned = cleaned.trim();
    let named = if cleaned.is_empty() || cleaned.starts_with('.') {
        format!("download{cleaned}")
    } else {
        cleaned.to_string()
    };
    // At most 200 characters, keeping the extension that says what it is.
    match named.rsplit_once('.') {
        Some((stem, ext)) if named.chars().count() > 200 && ext.chars().count() <= 10 => {
            let keep = 200 - ext.chars().count() - 1;
            format!("{}.{ext}", stem.chars().take(keep).collect::<String>())
        }
        _ => named.chars().take(200).collect(),
    }
}

fn back(slug: &str, outcome: &str) -> Response {
    Redirect::to(&format!("/admin/products/{slug}?upload={outcome}")).into_response()
}

/// The signed-in admin, or the answer for anyone else.
async fn admin(state: &AppState, session: &tower_sessions::Session) -> Result<i64, Response> {
    match accounts::signed_in(session, &Users::new(state.pool.clone())).await {
        Ok(Some(user)) if user.is_admin => Ok(user.id),
        Ok(Some(_)) => {
            Err((StatusCode::FORBIDDEN, "This page is for the shop's staff.").into_response())
        }
        Ok(None) => Err((StatusCode::UNAUTHORIZED, "Please sign in first.").into_response()),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the session for an upload");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "The shop is busy right now. Please try again in a moment.",
            )
                .into_response())
        }
    }
}

async fn product_id(state: &AppState, slug: &str) -> Result<i64, Response> {
    let Ok(slug) = ProductSlug::parse(slug) else {
        return Err(StatusCode::NOT_FOUND.into_response());
    };
    match sqlx::query_scalar!(
        "select id from product where slug = $1 and archived_at is null",
        slug.as_str()
    )
    .fetch_optional(&state.pool)
    .await
    {
        Ok(Some(id)) => Ok(id),
        Ok(None) => Err(StatusCode::NOT_FOUND.into_response()),
        Err(e) => {
            tracing::error!(error = %e, "could not read a product for an upload");
            Err(StatusCode::SERVICE_UNAVAILABLE.into_response())
        }
    }
}

/// The form's part named `name`: the admin's upload forms send that one part alone.
async fn field<'a>(
    multipart: &'a mut Multipart,
    name: &str,
) -> Result<Option<axum::extract::multipart::Field<'a>>, Refused> {
    match multipart.next_field().await {
        Ok(Some(f)) if f.name() == Some(name) => Ok(Some(f)),
        Ok(_) => Ok(None),
        Err(e) => {
            tracing::warn!(error = %e, "an upload broke off");
            Err(Refused::Failed)
        }
    }
}

/// A product's file.
pub async fn product_file(
    State(state): State<AppState>,
    session: tower_sessions::Session,
    Path(slug): Path<String>,
    mut multipart: Multipart,
) -> Response {
    receive(&state, &session, &slug, "file", async |product| {
        store_file(&state, product, &mut multipart).await.map(drop)
    })
    .await
}

/// Checks that an admin is asking and that the product exists (before a byte of the body is
/// read), stores the upload with `store`, and sends the browser back to the product with the
/// word for how it went: `done`, or why it was refused.
async fn receive(
    state: &AppState,
    session: &tower_sessions::Session,
    slug: &str,
    done: &'static str,
    store: impl AsyncFnOnce(i64) -> Result<(), Refused>,
) -> Response {
    let admin = match admin(state, session).await {
        Ok(id) => id,
        Err(answer) => return answer,
    };
    let product = match product_id(state, slug).await {
        Ok(id) => id,
        Err(answer) => return answer,
    };
    match store(product).await {
        Ok(()) => {
            tracing::info!(admin, product, upload = done, "upload stored");
            back(slug, done)
        }
        Err(why) => {
            tracing::info!(
                admin,
                product,
                upload = done,
                refused = why.code(),
                "upload refused"
            );
            back(slug, why.code())
        }
    }
}

async fn store_file(
    state: &AppState,
    product: i64,
    multipart: &mut Multipart,
) -> Result<String, Refused> {
    use tokio::io::AsyncWriteExt;
    let Some(mut upload) = field(multipart, "file").await? else {
        return Err(Refused::Empty);
    };
    let filename = clean_filename(upload.file_name().unwrap_or_default());
    let kind = claimed(&filename).ok_or(Refused::UnknownType)?;
    // Made with a random name, readable by this user only, and removed when dropped: whatever
    // becomes of the upload, its bytes do not stay on the disk.
    let temporary = tempfile::Builder::new()
        .prefix("storefront-upload-")
        .tempfile()
        .map_err(|e| failed("could not open a temporary file", e))?;
    let mut out = tokio::fs::File::from_std(
        temporary
            .reopen()
            .map_err(|e| failed("could not open a temporary file", e))?,
    );
    let mut hash = Sha256::new();
    let mut size: u64 = 0;
    let mut head: Vec<u8> = Vec::with_capacity(16);
    loop {
        let chunk = match upload.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "an upload broke off");
                return Err(Refused::Failed);
            }
        };
        size += chunk.len() as u64;
        if size > state.upload_limit {
            // Read the rest (the body limit bounds it) so the browser gets the answer rather
            // than a broken connection; none of it is kept.
            while let Ok(Some(_)) = upload.chunk().await {}
            return Err(Refused::TooLarge);
        }
        if head.len() < 16 {
            let want = (16 - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..want]);
        }
        hash.update(&chunk);
        out.write_all(&chunk)
            .await
            .map_err(|e| failed("could not write an upload", e))?;
    }
    if size == 0 {
        return Err(Refused::Empty);
    }
    if !(kind.matches)(&head) {
        return Err(Refused::Mismatch);
    }
    out.flush()
        .await
        .map_err(|e| failed("could not write an upload", e))?;
    drop(out);
    let digest = hex::encode(hash.finalize());
    let key = state
        .files
        .put_file(temporary.path(), &digest)
        .await
        .map_err(|e| failed("could not store an upload", e))?;
    sqlx::query!(
        // The product's page changes with its file (format and size), so its time of change
        // does too, for the sitemap.
        "with touched as (update product set updated_at = now() where id = $1)
         insert into product_file (product_id, object_key, filename, content_type, size_bytes)
         values ($1, $2, $3, $4, $5)
         on conflict (product_id) do update
         set object_key = excluded.object_key, filename = excluded.filename,
             content_type = excluded.content_type, size_bytes = excluded.size_bytes",
        product,
        key,
        filename,
        kind.mime,
        size as i64
    )
    .execute(&state.pool)
    .await
    .map_err(|e| failed("could not record an upload", e))?;
    Ok(filename)
}

fn failed(context: &str, e: impl std::fmt::Display) -> Refused {
    tracing::error!(error = %e, "{context}");
    Refused::Failed
}

/// A product's preview image.
pub async fn product_preview(
    State(state): State<AppState>,
    session: tower_sessions::Session,
    Path(slug): Path<String>,
    mut multipart: Multipart,
) -> Response {
    receive(&state, &session, &slug, "preview", async |product| {
        store_preview(&state, product, &mut multipart).await
    })
    .await
}

async fn store_preview(
    state: &AppState,
    product: i64,
    multipart: &mut Multipart,
) -> Result<(), Refused> {
    let Some(mut upload) = field(multipart, "preview").await? else {
        return Err(Refused::Empty);
    };
    let mut bytes = Vec::new();
    loop {
        match upload.chunk().await {
            Ok(Some(chunk)) => {
                if (bytes.len() + chunk.len()) as u64 > PREVIEW_LIMIT {
                    while let Ok(Some(_)) = upload.chunk().await {}
                    return Err(Refused::TooLarge);
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "an upload broke off");
                return Err(Refused::Failed);
            }
        }
    }
    if bytes.is_empty() {
        return Err(Refused::Empty);
    }
    let jpeg = tokio::task::spawn_blocking(move || resize(&bytes))
        .await
        .map_err(|e| failed("a preview resize stopped", e))??;
    let key = state
        .files
        .put(jpeg)
        .await
        .map_err(|e| failed("could not store a preview", e))?;
    sqlx::query!(
        "update product set preview_key = $2, version = version + 1, updated_at = now()
         where id = $1",
        product,
        key
    )
    .execute(&state.pool)
    .await
    .map_err(|e| failed("could not record a preview", e))?;
    Ok(())
}

/// Decodes an image (within limits, so a small file cannot claim a huge picture), scales it to
/// at most [`PREVIEW_SIDE`] a side, and encodes it as a JPEG.
fn resize(bytes: &[u8]) -> Result<Vec<u8>, Refused> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| Refused::NotAnImage)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(12_000);
    limits.max_image_height = Some(12_000);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|_| Refused::NotAnImage)?;
    let fitted = if decoded.width() > PREVIEW_SIDE || decoded.height() > PREVIEW_SIDE {
        decoded.resize(
            PREVIEW_SIDE,
            PREVIEW_SIDE,
            image::imageops::FilterType::Lanczos3,
        )
    } else {
        decoded
    };
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&fitted.to_rgb8())
        .map_err(|e| failed("could not encode a preview", e))?;
    Ok(out)
}

/// `GET /media/{sha256}.jpg`: a product's preview image. Only previews are served here (the
/// storage also holds paid files, under the same kind of name), and a name is its bytes' hash,
/// so browsers may keep it for good.
pub async fn media(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let Some(hash) = name.strip_suffix(".jpg").filter(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    }) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let key = format!("sha256/{hash}");
    let known = sqlx::query_scalar!(
        r#"select exists (select from product where preview_key = $1) as "known!""#,
        key
    )
    .fetch_one(&state.pool)
    .await;
    match known {
        Ok(true) => {}
        Ok(false) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "could not check a preview");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    let bytes = match state
        .files
        .store
        .get(&object_store::path::Path::from(key.as_str()))
        .await
    {
        Ok(got) => match got.bytes().await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "could not read a preview");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        },
        Err(e) => {
            tracing::error!(error = %e, "a preview is missing from the storage");
            return StatusCode::NOT_FOUND.into_response();
        }
    };
    (
        [
            (axum::http::header::CONTENT_TYPE, "image/jpeg"),
            (
                axum::http::header::CACHE_CONTROL,
                "public, max-age=31536000, immutable",
            ),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_must_be_what_its_name_says() {
        let pdf = claimed("Guide.PDF").unwrap();
        assert!((pdf.matches)(b"%PDF-1.7\n"));
        assert!(!(pdf.matches)(b"PK\x03\x04"));
        assert!(claimed("notes").is_none());
        assert!(claimed("run.exe").is_none());
    }

    #[test]
    fn filenames_lose_paths_quotes_and_control_characters() {
        assert_eq!(clean_filename("C:\\Users\\me\\guide.pdf"), "guide.pdf");
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename("a\"b\n.pdf"), "ab.pdf");
        assert_eq!(clean_filename(".pdf"), "download.pdf");
        let long = format!("{}.pdf", "n".repeat(300));
        let kept = clean_filename(&long);
        assert_eq!(kept.chars().count(), 200);
        assert!(kept.ends_with(".pdf"));
    }

    #[test]
    fn a_preview_that_is_not_an_image_is_refused_and_a_large_one_shrinks() {
        assert_eq!(resize(b"%PDF-1.7 not a picture"), Err(Refused::NotAnImage));
        let mut png = Vec::new();
        image::DynamicImage::new_rgb8(2400, 600)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let jpeg = resize(&png).unwrap();
        let back = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((back.width(), back.height()), (1200, 300));
    }
}
