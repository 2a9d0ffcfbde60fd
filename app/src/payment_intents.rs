//! The shop's calls to Stripe's PaymentIntents API, all in one place. Every write carries an
//! idempotency key derived from the order, so a retry after a lost answer, a double click or
//! two tabs at once never makes a second intent or a second change.

use std::collections::HashMap;

use sha2::Digest;
use stripe::{IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_core::payment_intent::{
    CreatePaymentIntent, CreatePaymentIntentAutomaticPaymentMethods, RetrievePaymentIntent,
    UpdatePaymentIntent,
};
use stripe_shared::PaymentIntent;

use crate::domain::{Email, Money, OrderId};
use crate::error::{OrInternal, ShopError};

/// What a new PaymentIntent is for.
pub struct NewIntent<'a> {
    pub order: &'a OrderId,
    pub amount: Money,
    pub product_slug: &'a str,
    pub product_title: &'a str,
}

/// Creates the order's PaymentIntent for the order's amount (from the database). The key is
/// the order's, so asking twice returns the same intent.
pub async fn create(
    stripe: &stripe::Client,
    new: NewIntent<'_>,
) -> Result<PaymentIntent, ShopError> {
    let currency: stripe_types::Currency =
        new.amount.currency().code().parse().map_err(|e| {
            ShopError::internal("currency unknown to async-stripe", format!("{e:?}"))
        })?;
    let key = IdempotencyKey::new(format!("order-{}-intent", new.order))
        .or_internal("bad idempotency key")?;
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
        .map_err(|e| ShopError::stripe("Failed to create a PaymentIntent", e))
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
