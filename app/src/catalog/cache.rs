//! The published catalog, kept in memory between changes.
//!
//! Every page of the shop shows products, and they change rarely, so each server keeps one copy
//! instead of asking Postgres on every request. A trigger on `product` sends `catalog_changed`
//! after any change, and [`follow_changes`] drops the copy when it hears it. While that channel
//! is down (at start, or after the connection broke) nothing is cached: a page never shows a
//! product or price the database no longer has for longer than a notification takes to arrive.
//! Checkout never reads from here; it reads the price from the database itself.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;

use crate::error::ShopError;
use crate::models::Product;

/// The channel the `product_catalog_changed` trigger notifies.
pub const CHANNEL: &str = "catalog_changed";

#[derive(Clone, Default)]
pub struct CatalogCache(Arc<RwLock<Cached>>);

#[derive(Default)]
struct Cached {
    /// Counts invalidations, so a read that started before one does not store what it read.
    generation: u64,
    /// Whether notifications are being heard; nothing is kept while they are not.
    listening: bool,
    products: Option<Arc<[Product]>>,
}

impl CatalogCache {
    /// The published products in catalog order.
    pub async fn published(&self, pool: &PgPool) -> Result<Arc<[Product]>, ShopError> {
        let generation = {
            let cached = self.0.read().unwrap_or_else(|e| e.into_inner());
            if let Some(products) = &cached.products {
                return Ok(products.clone());
            }
            cached.generation
        };
        let products: Arc<[Product]> = super::published(pool).await?.into();
        let mut cached = self.0.write().unwrap_or_else(|e| e.into_inner());
        if cached.listening && cached.generation == generation {
            cached.products = Some(products.clone());
        }
        Ok(products)
    }

    /// Which copy of the catalog is current, while changes are heard: anything rendered from
    /// the catalog at this generation stays right until it moves. `None` while notifications
    /// are not heard, when nothing derived from the catalog may be kept.
    pub fn generation(&self) -> Option<u64> {
        let cached = self.0.read().unwrap_or_else(|e| e.into_inner());
        cached.listening.then_some(cached.generation)
    }

    /// Forgets the copy; the next read goes to the database.
    pub fn invalidate(&self) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).forget();
    }

    fn set_listening(&self, listening: bool) {
        let mut cached = self.0.write().unwrap_or_else(|e| e.into_inner());
        cached.listening = listening;
        cached.forget();
    }
}

impl Cached {
    fn forget(&mut self) {
        self.generation += 1;
        self.products = None;
    }
}

/// Listens for catalog changes for as long as the server runs, reconnecting after a second
/// when the connection drops.
pub async fn follow_changes(cache: CatalogCache, pool: PgPool) {
    loop {
        match listen(&pool).await {
            Ok(mut listener) => {
                cache.set_listening(true);
                // `try_recv` answers `None` when the connection was lost: notifications may
                // have been missed, so start again from an empty cache.
                loop {
                    match listener.try_recv().await {
                        Ok(Some(_)) => cache.invalidate(),
                        Ok(None) => {
                            tracing::warn!("catalog listener lost its connection");
                            break;
                        }
                        Err(error) => {
                            tracing::warn!(%error, "catalog listener failed");
                            break;
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "catalog listener could not connect"),
        }
        cache.set_listening(false);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
