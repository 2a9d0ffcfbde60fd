//! Builds Stripe objects. Each one passes through async-stripe's own type (built from the fields
//! the stand-in sets, every other field absent), so what the stand-in serves is exactly what the
//! client library reads.

use std::collections::HashMap;
use std::str::FromStr;

use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use stripe_shared::{Charge, Dispute, PaymentIntent, PaymentMethod, Refund};
use stripe_types::Currency;

use crate::cards::TestCard;
use crate::error::ApiError;

pub fn new_id(prefix: &str) -> String {
    let tail: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    format!("{prefix}_{tail}")
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// JSON → one of async-stripe's types. A failure here is a bug in the stand-in.
pub fn typed<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| {
        tracing::error!(error = %e, "stand-in built an object async-stripe cannot read");
        ApiError::internal(format!("stand-in object failed to build: {e}"))
    })
}

pub fn json_of<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Currencies whose amounts are whole units (Stripe's "zero-decimal" list).
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

pub fn is_zero_decimal(currency: &str) -> bool {
    ZERO_DECIMAL.contains(&currency)
}

/// The smallest amount Stripe charges in a currency, in its minor unit.
fn minimum_amount(currency: &str) -> i64 {
    match currency {
        "gbp" => 30,
        "hkd" => 400,
        "krw" => 100,
        "mxn" => 1000,
        "nok" | "sek" | "dkk" => 300,
        "inr" => 50,
        _ => 50,
    }
}

fn display(amount: i64, currency: &str) -> String {
    if is_zero_decimal(currency) {
        format!("{amount} {currency}")
    } else {
        format!("{}.{:02} {currency}", amount / 100, amount % 100)
    }
}

pub fn parse_currency(raw: &str) -> Result<Currency, ApiError> {
    let lower = raw.to_ascii_lowercase();
    match Currency::from_str(&lower) {
        Ok(Currency::Unknown(_)) | Err(_) => Err(ApiError::invalid(
            format!(
                "Invalid currency: {raw}. Stripe currently supports these currencies: usd, eur, gbp, jpy, ..."
            ),
            Some("currency"),
            Some("parameter_invalid_string"),
        )),
        Ok(c) => Ok(c),
    }
}

pub fn check_amount(amount: i64, currency: &Currency) -> Result<(), ApiError> {
    let code = &currency.to_string();
    if amount < 1 {
        return Err(ApiError::invalid(
            "This value must be greater than or equal to 1.",
            Some("amount"),
            Some("parameter_invalid_integer"),
        ));
    }
    let min = minimum_amount(code);
    if amount < min {
        return Err(ApiError::invalid(
            format!("Amount must be at least {}", display(min, code)),
            Some("amount"),
            Some("amount_too_small"),
        ));
    }
    if amount > 99_999_999 {
        return Err(ApiError::invalid(
            format!("Amount must be no more than {}", display(99_999_999, code)),
            Some("amount"),
            Some("amount_too_large"),
        ));
    }
    Ok(())
}

pub struct NewPaymentIntent<'a> {
    pub amount: i64,
    pub currency: &'a Currency,
    pub metadata: HashMap<String, String>,
    pub description: Option<&'a str>,
    pub receipt_email: Option<&'a str>,
    pub automatic_payment_methods: bool,
    pub payment_method_types: Vec<String>,
}

pub fn payment_intent(new: NewPaymentIntent<'_>) -> Result<PaymentIntent, ApiError> {
    let id = new_id("pi");
    let secret = format!("{id}_secret_{}", new_id("s").trim_start_matches("s_"));
    let apm = new
        .automatic_payment_methods
        .then(|| json!({ "enabled": true, "allow_redirects": "always" }));
    typed(json!({
        "id": id,
        "object": "payment_intent",
        "amount": new.amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "automatic_payment_methods": apm,
        "capture_method": "automatic_async",
        "client_secret": secret,
        "confirmation_method": "automatic",
        "created": now(),
        "currency": new.currency.to_string(),
        "customer": null,
        "description": new.description,
        "livemode": false,
        "metadata": new.metadata,
        "payment_method_types": new.payment_method_types,
        "receipt_email": new.receipt_email,
        "status": "requires_payment_method",
        "payment_method_options": { "card": { "request_three_d_secure": "automatic" } },
    }))
}

pub fn payment_method(
    card: &TestCard,
    last4: &str,
    exp_month: i64,
    exp_year: i64,
    email: Option<&str>,
    name: Option<&str>,
) -> Result<PaymentMethod, ApiError> {
    typed(json!({
        "id": new_id("pm"),
        "object": "payment_method",
        "billing_details": { "email": email, "name": name },
        "card": {
            "brand": card.brand,
            "display_brand": card.brand,
            "country": card.country,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "funding": card.funding,
            "last4": last4,
            "fingerprint": fingerprint(card.number, last4),
            "checks": { "address_line1_check": null, "address_postal_code_check": null, "cvc_check": "unchecked" },
            "networks": { "available": [card.brand], "preferred": null },
            "three_d_secure_usage": { "supported": true },
        },
        "created": now(),
        "customer": null,
        "livemode": false,
        "metadata": {},
        "type": "card",
        "allow_redisplay": "unspecified",
    }))
}

fn fingerprint(number: &str, last4: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{number}{last4}").as_bytes());
    hex::encode(&digest[..8])
}

pub struct NewCharge<'a> {
    pub payment_intent: &'a PaymentIntent,
    pub payment_method: &'a PaymentMethod,
    pub failure: Option<(&'a str, &'a str, &'a str)>,
}

pub fn charge(new: NewCharge<'_>) -> Result<Charge, ApiError> {
    let pi = new.payment_intent;
    let pm = new.payment_method;
    let succeeded = new.failure.is_none();
    let card = pm.card.as_ref();
    let id = new_id("ch");
    let outcome = match new.failure {
        None => json!({
            "type": "authorized",
            "network_status": "approved_by_network",
            "reason": null,
            "risk_level": "normal",
            "risk_score": 32,
            "seller_message": "Payment complete.",
        }),
        Some((_, decline_code, _)) => json!({
            "type": "issuer_declined",
            "network_status": "declined_by_network",
            "reason": decline_code,
            "risk_level": "normal",
            "risk_score": 32,
            "seller_message": "The bank did not return any further details with this decline.",
        }),
    };
    typed(json!({
        "id": id,
        "object": "charge",
        "amount": pi.amount,
        "amount_captured": if succeeded { pi.amount } else { 0 },
        "amount_refunded": 0,
        "balance_transaction": if succeeded { Some(new_id("txn")) } else { None },
        "billing_details": json_of(&pm.billing_details),
        "calculated_statement_descriptor": "STOREFRONT",
        "captured": succeeded,
        "created": now(),
        "currency": pi.currency.to_string(),
        "customer": null,
        "description": pi.description,
        "disputed": false,
        "failure_code": new.failure.map(|f| f.0),
        "failure_message": new.failure.map(|f| f.2),
        "livemode": false,
        "metadata": pi.metadata,
        "outcome": outcome,
        "paid": succeeded,
        "payment_intent": pi.id.as_str(),
        "payment_method": pm.id.as_str(),
        "payment_method_details": {
            "type": "card",
            "card": {
                "brand": card.map(|c| c.brand.clone()),
                "country": card.and_then(|c| c.country.clone()),
                "exp_month": card.map(|c| c.exp_month),
                "exp_year": card.map(|c| c.exp_year),
                "funding": card.map(|c| c.funding.clone()),
                "last4": card.map(|c| c.last4.clone()),
                "network": card.map(|c| c.brand.clone()),
                "amount_authorized": if succeeded { Some(pi.amount) } else { None },
            },
        },
        "receipt_email": pi.receipt_email,
        "receipt_url": format!("https://pay.stripe.invalid/receipts/{id}"),
        "refunded": false,
        "refunds": { "object": "list", "data": [], "has_more": false, "url": format!("/v1/charges/{id}/refunds") },
        "status": if succeeded { "succeeded" } else { "failed" },
    }))
}

pub fn refund(
    charge: &Charge,
    amount: i64,
    reason: Option<&str>,
    metadata: HashMap<String, String>,
) -> Result<Refund, ApiError> {
    typed(json!({
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn"),
        "charge": charge.id.as_str(),
        "created": now(),
        "currency": charge.currency.to_string(),
        "metadata": metadata,
        "payment_intent": charge.payment_intent.as_ref().map(|p| p.id().as_str().to_string()),
        "reason": reason,
        "status": "succeeded",
        "destination_details": { "type": "card", "card": { "type": "refund", "reference_status": "pending", "reference_type": "acquirer_reference_number" } },
    }))
}

/// A new dispute of the whole charge, waiting for the seller's response.
pub fn dispute(charge: &Charge, reason: &str) -> Result<Dispute, ApiError> {
    typed(json!({
        "id": new_id("dp"),
        "object": "dispute",
        "amount": charge.amount,
        "balance_transactions": [],
        "charge": charge.id.as_str(),
        "created": now(),
        "currency": charge.currency.to_string(),
        "enhanced_eligibility_types": [],
        "evidence": { "enhanced_evidence": {} },
        "evidence_details": {
            "due_by": now() + 7 * 24 * 60 * 60,
            "enhanced_eligibility": {},
            "has_evidence": false,
            "past_due": false,
            "submission_count": 0,
        },
        "is_charge_refundable": false,
        "livemode": false,
        "metadata": {},
        "payment_intent": charge.payment_intent.as_ref().map(|p| p.id().as_str().to_string()),
        "reason": reason,
        "status": "needs_response",
    }))
}
