//! Charges: read-only; they are made by confirming PaymentIntents and changed by refunds.

use serde_json::Value;

use crate::Tx;
use crate::error::ApiError;
use crate::objects::json_of;

pub fn retrieve(tx: &mut Tx<'_>, id: &str) -> Result<Value, ApiError> {
    tx.params.allow(&[])?;
    tx.store
        .charges
        .get(id)
        .map(json_of)
        .ok_or_else(|| ApiError::missing("charge", id, "id"))
}

pub fn list(tx: &mut Tx<'_>) -> Result<Value, ApiError> {
    let p = tx.params;
    p.allow(&[
        "limit",
        "starting_after",
        "ending_before",
        "created",
        "payment_intent",
    ])?;
    let created = p.range("created")?;
    let pi = p.str("payment_intent");
    let items = tx.store.charges.iter().filter(|(_, ch)| {
        created.contains(ch.created)
            && pi.is_none_or(|want| {
                ch.payment_intent
                    .as_ref()
                    .is_some_and(|x| x.id().as_str() == want)
            })
    });
    crate::store::page(items, p, "/v1/charges", json_of)
}
