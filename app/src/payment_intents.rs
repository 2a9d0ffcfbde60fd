//! The shop's calls to Stripe's PaymentIntents API, all in one place. Every write carries an
//! idempotency key derived from the order, so a retry after a lost answer, a double click or
//! two tabs at once never makes a second intent or a second change. Creating an order's intent
//! is keyed per attempt: after a failure Stripe keeps under its key, the next attempt has the
//! next key (see [`CreateFailed::key_spent`]).

use std::collections::HashMap;

use sha2::Digest;
use stripe::{ApiErrorsType, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_core::payment_intent::{
    CancelPaymentIntent, CancelPaymentIntentCancellationReason, CreatePaymentIntent,
    CreatePaymentIntentAutomaticPaymentMethods, RetrievePaymentIntent, UpdatePaymentIntent,
};
use stripe_shared::PaymentIntent;

use crate::domain::{Email, Money, OrderId};
use crate::error::{OrInternal, ShopError};

/// What a new PaymentIntent is for.
pub struct NewIntent<'a> {
    pub order: &'a OrderId,
    /// Which attempt at creating this order's intent this is (from 0).
    pub attempt: i32,
    pub amount: Money,
    pub product_slug: &'a str,
    pub product_title: &'a str,
}

/// Creating an intent failed.
#[derive(Debug)]
pub struct CreateFailed {
    pub error: ShopError,
    /// Stripe keeps this failure under the attempt's idempotency key (a 5xx, which Stripe
    /// saves for any request that began executing, or the key already used with other
    /// parameters), so asking again with the same key would only replay it.
    pub key_spent: bool,
}

/// The idempotency key of one attempt at creating an order's intent. The first attempt keeps
/// the key orders have always had.
fn create_key(order: &OrderId, attempt: i32) -> String {
    match attempt {
        0 => format!("order-{order}-intent"),
        n => format!("order-{order}-intent-{n}"),
    }
}

/// Creates the order's PaymentIntent for the order's amount (from the database). The key is
/// the order's and the attempt's, so asking twice returns the same intent.
pub async fn create(
    stripe: &stripe::Client,
    new: NewIntent<'_>,
) -> Result<PaymentIntent, CreateFailed> {
    let failed = |error| CreateFailed {
        error,
        key_spent: false,
    };
    let currency: stripe_types::Currency = new.amount.currency().code().parse().map_err(|e| {
        failed(ShopError::internal(
            "currency unknown to async-stripe",
            format!("{e:?}"),
        ))
    })?;
    let key = IdempotencyKey::new(create_key(new.order, new.attempt))
        .or_internal("bad idempotency key")
        .map_err(failed)?;
    CreatePaymentIntent::new(new.amount.minor(), currency)
        .automatic_payment_methods(CreatePaymentIntentAutomaticPaymentMethods::new(true))
        .metadata(HashMap::from([
            ("order_id".to_string(), new.order.to_string()),
            ("product".to_string(), new.product_slug.to_string()),
        ]))
        .description(new.product_title.to_string())
        .customize()
        .request_strategy(RequestStrategy::Idempotent(key))
        .send(stripe)
        .await
        .map_err(|e| CreateFailed {
            key_spent: key_spent(&e),
            error: ShopError::stripe("Failed to create a PaymentIntent", e),
        })
}

/// Only answers Stripe keeps under the key spend it: a 5xx `api_error`, or the key refused as
/// used with other parameters (400). A 409 means another request with the key is still
/// running; it stores nothing, and the key is still the one to retry with.
fn key_spent(err: &StripeError) -> bool {
    match err {
        StripeError::Stripe(e, status) => match e.type_ {
            ApiErrorsType::ApiError => *status >= 500,
            ApiErrorsType::IdempotencyError => *status == 400,
            _ => false,
        },
        _ => false,
    }
}

/// Sets the receipt email on an intent. Keyed by the order and the address, so the same
/// address is set once and a changed one is a new request.
pub async fn set_receipt_email(
    stripe: &stripe::Client,
    order: &OrderId,
    intent_id: &str,
    email: &Email,
) -> Result<(), ShopError> {
    let digest = hex::encode(&sha2::Sha256::digest(email.as_str().as_bytes())[..12]);
    let key = IdempotencyKey::new(format!("order-{order}-email-{digest}"))
        .or_internal("bad idempotency key")?;
    UpdatePaymentIntent::new(intent_id)
        .receipt_email(email.as_str())
        .customize()
        .request_strategy(RequestStrategy::Idempotent(key))
        .send(stripe)
        .await
        .map_err(|e| ShopError::stripe("Failed to set a PaymentIntent's receipt email", e))?;
    Ok(())
}

/// Cancels an intent that will not be used (`abandoned`), keyed by the order so a repeat is
/// one cancellation.
pub async fn cancel(
    stripe: &stripe::Client,
    order: &OrderId,
    intent_id: &str,
) -> Result<PaymentIntent, ShopError> {
    let reason = CancelPaymentIntentCancellationReason::Abandoned;
    cancel_keyed(stripe, intent_id, format!("order-{order}-cancel"), reason).await
}

/// Cancels the intent of an order that expired (`abandoned`). The key names the hour, so
/// retries within a run are one cancellation while a later run, after Stripe refused (the
/// intent was processing and has since failed back), is asked afresh rather than answered
/// from the stored refusal for a day.
pub async fn expire(
    stripe: &stripe::Client,
    order: &OrderId,
    intent_id: &str,
) -> Result<PaymentIntent, ShopError> {
    let hour = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 3600)
        .unwrap_or_default();
    let reason = CancelPaymentIntentCancellationReason::Abandoned;
    cancel_keyed(
        stripe,
        intent_id,
        format!("order-{order}-expire-{hour}"),
        reason,
    )
    .await
}

/// Cancels an intent made for an order that already had one (`duplicate`).
pub async fn cancel_extra(stripe: &stripe::Client, intent_id: &str) -> Result<(), ShopError> {
    let reason = CancelPaymentIntentCancellationReason::Duplicate;
    cancel_keyed(
        stripe,
        intent_id,
        format!("{intent_id}-cancel-duplicate"),
        reason,
    )
    .await?;
    Ok(())
}

async fn cancel_keyed(
    stripe: &stripe::Client,
    intent_id: &str,
    key: String,
    reason: CancelPaymentIntentCancellationReason,
) -> Result<PaymentIntent, ShopError> {
    let key = IdempotencyKey::new(key).or_internal("bad idempotency key")?;
    CancelPaymentIntent::new(intent_id)
        .cancellation_reason(reason)
        .customize()
        .request_strategy(RequestStrategy::Idempotent(key))
        .send(stripe)
        .await
        .map_err(|e| ShopError::stripe("Failed to cancel a PaymentIntent", e))
}

/// What Stripe says about an intent now.
pub async fn retrieve(
    stripe: &stripe::Client,
    intent_id: &str,
) -> Result<PaymentIntent, ShopError> {
    RetrievePaymentIntent::new(intent_id)
        .send(stripe)
        .await
        .map_err(|e| ShopError::stripe("Failed to read a PaymentIntent", e))
}

/// The latest charge of an intent, as Stripe has it now (with its refunded total).
pub async fn latest_charge(
    stripe: &stripe::Client,
    intent_id: &str,
) -> Result<Option<stripe_shared::Charge>, ShopError> {
    let intent = RetrievePaymentIntent::new(intent_id)
        .expand(vec!["latest_charge".to_string()])
        .send(stripe)
        .await
        .map_err(|e| ShopError::stripe("Failed to read a PaymentIntent's charge", e))?;
    Ok(match intent.latest_charge {
        Some(stripe_types::Expandable::Object(charge)) => Some(*charge),
        _ => None,
    })
}
