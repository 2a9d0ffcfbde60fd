//! Idempotent requests as Stripe keeps them: a POST's answer is saved under its API key and
//! `Idempotency-Key` for 24 hours. The same key with the same parameters gets the saved answer
//! again; with other parameters it is refused.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::ApiError;

const KEPT_FOR: Duration = Duration::from_secs(24 * 60 * 60);

/// An answer kept under an idempotency key.
#[derive(Debug, Clone)]
struct Saved {
    /// Method, path and canonical parameters of the request that used the key first.
    fingerprint: String,
    status: u16,
    body: Value,
    at: Instant,
}

/// What to do with a request that carries a key.
pub enum Seen {
    /// The key is new (or expired): run the request.
    New,
    /// The same request ran before: answer what it answered.
    Replay { status: u16, body: Value },
    /// The key was used for another request.
    Mismatch(ApiError),
}

#[derive(Debug, Default)]
pub struct Keys {
    saved: HashMap<(String, String), Saved>,
}

impl Keys {
    pub fn check(&mut self, api_key: &str, key: &str, fingerprint: &str) -> Seen {
        self.saved.retain(|_, saved| saved.at.elapsed() < KEPT_FOR);
        match self.saved.get(&(api_key.to_string(), key.to_string())) {
            None => Seen::New,
            Some(saved) if saved.fingerprint != fingerprint => {
                Seen::Mismatch(ApiError::idempotency(format!(
                    "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
                )))
            }
            Some(saved) => Seen::Replay {
                status: saved.status,
                body: saved.body.clone(),
            },
        }
    }

    pub fn save(
        &mut self,
        api_key: &str,
        key: &str,
        fingerprint: String,
        status: u16,
        body: Value,
    ) {
        self.saved.insert(
            (api_key.to_string(), key.to_string()),
            Saved {
                fingerprint,
                status,
                body,
                at: Instant::now(),
            },
        );
    }
}
