//! Shared by the stand-in's tests: a stand-in of their own on a free port, async-stripe pointed
//! at it, and a webhook receiver that records what arrives.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use stripe::{Client, ClientBuilder};
use stripe_standin::{Options, Running};

pub const SECRET_KEY: &str = "sk_test_standin_tests";
pub const WEBHOOK_SECRET: &str = "whsec_standin_tests";

pub async fn standin() -> Running {
    stripe_standin::spawn(Options::default())
        .await
        .expect("stand-in starts")
}

pub fn client(standin: &Running) -> Client {
    ClientBuilder::new(SECRET_KEY)
        .url(format!("{}/", standin.base_url))
        .build()
        .expect("client builds")
}

#[derive(Clone, Debug)]
pub struct Received {
    pub signature: String,
    pub body: String,
}

/// A webhook endpoint that answers `status_for(n)` to its n-th request (from 0).
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
}

type StatusFn = Arc<dyn Fn(usize) -> StatusCode + Send + Sync>;

pub async fn receiver(
    status_for: impl Fn(usize) -> StatusCode + Send + Sync + 'static,
) -> Receiver {
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let state: (Arc<Mutex<Vec<Received>>>, StatusFn) = (received.clone(), Arc::new(status_for));
    let app = Router::new()
        .route(
            "/hook",
            post(
                |State((log, status)): State<(Arc<Mutex<Vec<Received>>>, StatusFn)>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let mut log = log.lock().unwrap();
                    let n = log.len();
                    log.push(Received {
                        signature: headers
                            .get("stripe-signature")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string(),
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    status(n)
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, received }
}

impl Receiver {
    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until at least `n` requests have arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            if self.received.lock().unwrap().len() >= n {
                return self.all();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} deliveries, got {}", self.all().len());
    }

    pub fn event_ids(&self) -> Vec<String> {
        self.all()
            .iter()
            .map(|r| {
                serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }
}

/// Registers `receiver` with the stand-in and speeds retries up.
pub async fn connect(standin: &Running, receiver: &Receiver) {
    let http = reqwest::Client::new();
    http.post(format!("{}/_standin/webhook_endpoints", standin.base_url))
        .json(&serde_json::json!({ "url": receiver.url, "secret": WEBHOOK_SECRET }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    control(
        standin,
        "config",
        serde_json::json!({ "retry_base_ms": 50, "retry_max_ms": 200 }),
    )
    .await;
}

pub async fn control(standin: &Running, path: &str, body: serde_json::Value) -> serde_json::Value {
    let resp = reqwest::Client::new()
        .post(format!("{}/_standin/{path}", standin.base_url))
        .json(&body)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    resp.json().await.unwrap_or(serde_json::Value::Null)
}

pub async fn deliveries(standin: &Running) -> Vec<serde_json::Value> {
    reqwest::get(format!("{}/_standin/deliveries", standin.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits (up to 10 s) until the stand-in has no delivery in flight or waiting for a retry and
/// no delayed work left, so nothing more arrives until the next call; returns how many
/// deliveries are held.
pub async fn settled(standin: &Running) -> u64 {
    let url = format!("{}/_standin/deliveries/pending", standin.base_url);
    for _ in 0..200 {
        let pending: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        if pending["in_flight"] == 0 && pending["scheduled"] == 0 {
            return pending["held"].as_u64().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the stand-in still had work in flight after 10 s");
}

/// Every API call the stand-in answered, oldest first (`/_standin/requests`).
pub async fn standin_requests(standin: &Running) -> Vec<serde_json::Value> {
    reqwest::get(format!("{}/_standin/requests", standin.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The stand-in's events of `type_`, newest first, as the raw JSON Stripe would send.
pub async fn events_of_type(standin: &Running, type_: &str) -> Vec<serde_json::Value> {
    let list: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/v1/events", standin.base_url))
        .bearer_auth(SECRET_KEY)
        .query(&[("type", type_)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["data"].as_array().unwrap().clone()
}
