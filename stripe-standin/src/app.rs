//! The stand-in's shared state: the store behind its lock, the HTTP client that delivers
//! webhooks, and counters of the work still running in the background.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::Options;
use crate::auth::Auth;
use crate::call::{Later, RequestInfo, Tx};
use crate::error::ApiError;
use crate::params::Params;
use crate::store::{RequestRecord, Store};
use crate::webhooks::Endpoint;

#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    store: Mutex<Store>,
    base_url: String,
    http: reqwest::Client,
    options: Options,
    /// Deliveries sent or waiting for a retry, and delayed work not yet done.
    deliveries_in_flight: AtomicUsize,
    scheduled: AtomicUsize,
}

/// Counts one piece of background work while it lives, so `/_standin/deliveries/pending` can
/// say when nothing more will happen.
pub(crate) struct Counted(App, fn(&Inner) -> &AtomicUsize);

impl Drop for Counted {
    fn drop(&mut self) {
        (self.1)(&self.0.inner).fetch_sub(1, Ordering::SeqCst);
    }
}

impl App {
    pub fn new(base_url: String, options: Options) -> Self {
        let app = Self {
            inner: Arc::new(Inner {
                store: Mutex::new(Store::default()),
                base_url,
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .expect("an HTTP client with default settings builds"),
                options,
                deliveries_in_flight: AtomicUsize::new(0),
                scheduled: AtomicUsize::new(0),
            }),
        };
        app.reset();
        app
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while the lock was held leaves plain data behind; keep serving it.
        self.inner
            .store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Empties the store, keeping the endpoints and configuration given at start.
    pub fn reset(&self) {
        let opts = &self.inner.options;
        let endpoints = opts
            .webhook_urls
            .iter()
            .map(|url| Endpoint::new(url.clone(), opts.webhook_secrets.clone(), vec![]))
            .collect();
        self.store().reset(endpoints, opts.config.clone());
    }

    /// Keeps a request in the log `/_standin/requests` shows.
    pub(crate) fn record(&self, request: RequestRecord) {
        let mut store = self.store();
        // A long-running dev stand-in keeps only the recent history.
        if store.requests.len() >= 10_000 {
            store.requests.drain(..1_000);
        }
        store.requests.push(request);
    }

    /// A delivery task starts; it counts until the returned guard is dropped.
    pub(crate) fn delivery_started(&self) -> Counted {
        self.inner
            .deliveries_in_flight
            .fetch_add(1, Ordering::SeqCst);
        Counted(self.clone(), |inner| &inner.deliveries_in_flight)
    }

    /// Deliveries not yet delivered, given up or stopped by a reset (held ones are not counted).
    pub fn deliveries_in_flight(&self) -> usize {
        self.inner.deliveries_in_flight.load(Ordering::SeqCst)
    }

    /// Delayed work (a payment leaving `processing`) not yet done.
    pub fn scheduled(&self) -> usize {
        self.inner.scheduled.load(Ordering::SeqCst)
    }

    /// Runs `f` as the stand-in itself (no API request behind it, as when Stripe acts on its
    /// own), then sends the events it made.
    pub(crate) fn system_call<T>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let (result, deliveries) = {
            let mut store = self.store();
            let params = Params::default();
            let auth = Auth::system();
            let mut tx = Tx {
                store: &mut store,
                params: &params,
                auth: &auth,
                request: RequestInfo {
                    id: None,
                    idempotency_key: None,
                },
                base_url: self.base_url(),
                deliveries: vec![],
                later: vec![],
            };
            let result = f(&mut tx);
            (result, tx.deliveries)
        };
        self.dispatch(deliveries);
        result
    }

    /// Runs delayed work after its wait, as a system action with no API request behind it.
    pub(crate) fn schedule(&self, job: Later) {
        self.inner.scheduled.fetch_add(1, Ordering::SeqCst);
        let running = Counted(self.clone(), |inner| &inner.scheduled);
        let app = self.clone();
        tokio::spawn(async move {
            let Later::Settle {
                payment_intent,
                after_ms,
            } = job;
            tokio::time::sleep(Duration::from_millis(after_ms)).await;
            // Its deliveries are dispatched before this job stops counting, so that a quiet
            // stand-in has no delivery about to start.
            if let Err(e) = app.system_call(|tx| crate::api::settle_processing(tx, &payment_intent))
            {
                tracing::error!(error = e.message(), "could not settle a processing payment");
            }
            drop(running);
        });
    }
}
