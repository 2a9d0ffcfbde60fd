//! Who is calling: the API key read the way Stripe reads it, and which keys an endpoint takes.

use axum::http::HeaderMap;

use crate::error::ApiError;
use crate::params::Params;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Secret,
    Publishable,
}

impl KeyKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            KeyKind::Secret => "secret",
            KeyKind::Publishable => "publishable",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Auth {
    pub key: String,
    pub kind: KeyKind,
}

impl Auth {
    /// The stand-in itself, for work that no API request started (a payment leaving
    /// `processing`).
    pub(crate) fn system() -> Self {
        Auth {
            key: String::new(),
            kind: KeyKind::Secret,
        }
    }
}

/// Which keys may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    SecretOnly,
    /// The browser may call it with the publishable key plus the object's client secret.
    ClientSecret,
}

pub(crate) fn publishable_refused() -> ApiError {
    ApiError::forbidden(
        "This API call cannot be made with a publishable API key. Please use a secret API key. You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys.",
    )
}

/// Reads the key the way Stripe does: `Authorization: Bearer …`, HTTP Basic with the key as
/// user name, or (from Stripe.js) a `key` parameter holding a publishable key. Live keys are
/// refused: the stand-in is test mode only.
pub(crate) fn authenticate(headers: &HeaderMap, params: &Params) -> Result<Auth, ApiError> {
    let key = match (key_from_header(headers), params.str("key")) {
        (Some(k), _) => k,
        (None, Some(k)) if k.starts_with("pk_") => k.to_string(),
        _ => {
            return Err(ApiError::unauthorized(
                "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            ));
        }
    };
    if ["sk_live_", "pk_live_", "rk_live_"]
        .iter()
        .any(|p| key.starts_with(p))
    {
        return Err(ApiError::unauthorized(format!(
            "Invalid API Key provided: {}. The Stripe stand-in only accepts test-mode keys.",
            masked(&key)
        )));
    }
    let kind = if key.starts_with("sk_test_") || key.starts_with("rk_test_") {
        KeyKind::Secret
    } else if key.starts_with("pk_test_") {
        KeyKind::Publishable
    } else {
        return Err(ApiError::unauthorized(format!(
            "Invalid API Key provided: {}",
            masked(&key)
        )));
    };
    Ok(Auth { key, kind })
}

fn key_from_header(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    if let Some(token) = value.strip_prefix("Bearer ") {
        return Some(token.trim().to_string());
    }
    use base64::Engine;
    let basic = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    Some(text.split(':').next().unwrap_or_default().to_string())
}

/// A key as Stripe echoes it in errors: its start and end only.
fn masked(key: &str) -> String {
    if key.len() > 12 {
        format!("{}****{}", &key[..8], &key[key.len() - 4..])
    } else {
        "****".into()
    }
}
