//! Files buyers download: kept in a storage behind `object_store` (the local filesystem by
//! default, under their SHA-256), handed out through short-lived signed links. A library's
//! permanent link checks who is asking and redirects to a signed link that works for
//! `LINK_LIFETIME` and names the order it is for; the signed link is checked again against the
//! order's grant when it is used, so a refund stops it at once.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::domain::OrderId;

/// How long a signed link works.
pub const LINK_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// The storage and the key links are signed with.
#[derive(Clone)]
pub struct Files {
    pub store: Arc<dyn ObjectStore>,
    signing_key: Arc<SecretString>,
}

/// A file a buyer may download now.
#[derive(Debug, Clone)]
pub struct Deliverable {
    pub object_key: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
}

impl Files {
    pub fn new(store: Arc<dyn ObjectStore>, signing_key: SecretString) -> Self {
        Self {
            store,
            signing_key: Arc::new(signing_key),
        }
    }

    /// Stores `bytes` under their SHA-256 and returns the key. Storing the same bytes twice
    /// writes the same object.
    pub async fn put(&self, bytes: Vec<u8>) -> Result<String, object_store::Error> {
        let key = format!("sha256/{}", hex::encode(Sha256::digest(&bytes)));
        self.store
            .put(&Path::from(key.as_str()), PutPayload::from(bytes))
            .await?;
        Ok(key)
    }

    /// Copies the file at `path`, whose SHA-256 is `sha256` (hex), into the storage under that
    /// hash and returns the key, streaming it in parts (an S3 bucket takes it as a multipart
    /// upload). The same bytes stored twice are one object. A copy that fails midway is
    /// aborted, so no partial object is left under the key.
    pub async fn put_file(
        &self,
        path: &std::path::Path,
        sha256: &str,
    ) -> Result<String, object_store::Error> {
        use tokio::io::AsyncReadExt;
        let key = format!("sha256/{sha256}");
        let location = Path::from(key.as_str());
        if self.store.head(&location).await.is_ok() {
            return Ok(key);
        }
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| io_error(path, e))?;
        let upload = self.store.put_multipart(&location).await?;
        let mut write = object_store::WriteMultipart::new_with_chunk_size(upload, 8 * 1024 * 1024);
        let mut buf = vec![0; 1024 * 1024];
        loop {
            let read = match file.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = write.abort().await;
                    return Err(io_error(path, e));
                }
            };
            if let Err(e) = write.wait_for_capacity(4).await {
                let _ = write.abort().await;
                return Err(e);
            }
            write.write(&buf[..read]);
        }
        write.finish().await?;
        Ok(key)
    }

    /// A signed link for `order`'s file, working until `LINK_LIFETIME` from now.
    pub fn sign(&self, order: &OrderId) -> String {
        let expires = now_secs() + LINK_LIFETIME.as_secs();
        format!("{order}.{expires}.{}", self.mac(order.as_str(), expires))
    }

    /// The order a signed link is for, if the link is this shop's, unedited and not expired.
    pub fn verify(&self, link: &str) -> Option<OrderId> {
        let mut parts = link.splitn(3, '.');
        let (order, expires, mac) = (parts.next()?, parts.next()?, parts.next()?);
        let expires: u64 = expires.parse().ok()?;
        let given = hex::decode(mac).ok()?;
        let mut check = self.hmac();
        check.update(format!("{order}.{expires}").as_bytes());
        // verify_slice compares in constant time.
        check.verify_slice(&given).ok()?;
        if expires < now_secs() {
            return None;
        }
        OrderId::parse(order).ok()
    }

    fn hmac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(self.signing_key.expose_secret().as_bytes())
            .expect("HMAC takes a key of any length")
    }

    fn mac(&self, order: &str, expires: u64) -> String {
        let mut mac = self.hmac();
        mac.update(format!("{order}.{expires}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

fn io_error(path: &std::path::Path, source: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "upload",
        source: format!("{}: {source}", path.display()).into(),
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The file of `order`, if its grant is live now (not revoked by a refund or a lost dispute,
/// not suspended by an open one) and `may` holds for its account (`user`, when asked for
/// through the library; `None` for a signed link, which was checked when it was made).
pub async fn deliverable(
    pool: &PgPool,
    order: &OrderId,
    user: Option<i64>,
) -> Result<Option<Deliverable>, sqlx::Error> {
    sqlx::query_as!(
        Deliverable,
        "select f.object_key, f.filename, f.content_type, f.size_bytes
         from customer_order o
         join entitlement e on e.order_id = o.id
         join product_file f on f.product_id = e.product_id
         where o.public_id = $1
           and e.revoked_at is null and e.suspended_at is null
           and ($2::bigint is null or o.user_id = $2)",
        order.as_str(),
        user
    )
    .fetch_optional(pool)
    .await
}
