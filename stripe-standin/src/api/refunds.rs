//! Refunds, full or partial, never more than what is left of the charge.

use std::collections::HashMap;

use serde_json::Value;
use stripe_shared::Charge;

use crate::Tx;
use crate::error::ApiError;
use crate::objects::{self, json_of};

pub fn create(tx: &mut Tx<'_>) -> Result<Value, ApiError> {
    let p = tx.params;
    p.allow(&[
        "payment_intent",
        "charge",
        "amount",
        "reason",
        "metadata",
        "instructions_email",
        "refund_application_fee",
        "reverse_transfer",
    ])?;
    // Checked before anything changes, as Stripe refuses the whole request.
    let expand = p.list("expand");
    if let Some(other) = expand.iter().find(|f| f.as_str() != "charge") {
        return Err(ApiError::invalid(
            format!("This property cannot be expanded ({other})."),
            Some("expand"),
            None,
        ));
    }
    let charge_id = match (p.str("charge"), p.str("payment_intent")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "You may only specify one of these parameters: charge, payment_intent.",
                Some("charge"),
                None,
            ));
        }
        (Some(ch), None) => ch.to_string(),
        (None, Some(pi_id)) => {
            let pi = tx
                .store
                .payment_intents
                .get(pi_id)
                .ok_or_else(|| ApiError::missing("payment_intent", pi_id, "payment_intent"))?;
            let succeeded = pi
                .latest_charge
                .as_ref()
                .and_then(|c| tx.store.charges.get(c.id().as_str()))
                .filter(|c| c.paid);
            match succeeded {
                Some(c) => c.id.as_str().to_string(),
                None => {
                    return Err(ApiError::state(
                        format!(
                            "This PaymentIntent ({pi_id}) does not have a successful charge to refund."
                        ),
                        "charge_not_refundable",
                    ));
                }
            }
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "One of the following params should be provided for this request: payment_intent or charge.",
                Some("charge"),
                Some("parameter_missing"),
            ));
        }
    };
    let charge = tx
        .store
        .charges
        .get(&charge_id)
        .cloned()
        .ok_or_else(|| ApiError::missing("charge", &charge_id, "charge"))?;
    if !charge.paid {
        return Err(ApiError::state(
            format!("Charge {charge_id} has not succeeded and cannot be refunded."),
            "charge_not_refundable",
        ));
    }
    let left = charge.amount_captured - charge.amount_refunded;
    if left <= 0 {
        return Err(ApiError::state(
            format!("Charge {charge_id} has already been refunded."),
            "charge_already_refunded",
        ));
    }
    let amount = p.i64("amount")?.unwrap_or(left);
    if amount < 1 {
        return Err(ApiError::invalid(
            "Refund amount must be positive.",
            Some("amount"),
            Some("parameter_invalid_integer"),
        ));
    }
    if amount > left {
        return Err(ApiError::state(
            format!(
                "Refund amount ({}) is greater than unrefunded amount on charge ({}).",
                money(amount, &charge),
                money(left, &charge)
            ),
            "amount_too_large",
        )
        .with("param", "amount".into()));
    }
    let reason = p.str("reason");
    if let Some(r) = reason
        && !["duplicate", "fraudulent", "requested_by_customer"].contains(&r)
    {
        return Err(ApiError::invalid(
            format!("Invalid reason: {r}"),
            Some("reason"),
            None,
        ));
    }
    let mut metadata = HashMap::new();
    p.apply_metadata(&mut metadata)?;
    let refund = objects::refund(&charge, amount, reason, metadata)?;
    let refund_id = refund.id.as_str().to_string();
    tx.store.refunds.insert(refund_id.clone(), refund.clone());
    let charge = {
        let ch = tx.store.charges.get_mut(&charge_id).expect("read above");
        ch.amount_refunded += amount;
        ch.refunded = ch.amount_refunded >= ch.amount_captured;
        if let Some(list) = ch.refunds.as_mut() {
            list.data.insert(0, refund.clone());
        }
        ch.clone()
    };
    tx.emit("refund.created", json_of(&refund))?;
    tx.emit("charge.refunded", json_of(&charge))?;
    let mut out = json_of(&refund);
    if !expand.is_empty() {
        // The charge as it is after this refund, as Stripe expands it.
        out["charge"] = json_of(&charge);
    }
    Ok(out)
}

pub fn retrieve(tx: &mut Tx<'_>, id: &str) -> Result<Value, ApiError> {
    tx.params.allow(&[])?;
    tx.store
        .refunds
        .get(id)
        .map(json_of)
        .ok_or_else(|| ApiError::missing("refund", id, "id"))
}

pub fn list(tx: &mut Tx<'_>) -> Result<Value, ApiError> {
    let p = tx.params;
    p.allow(&[
        "limit",
        "starting_after",
        "ending_before",
        "created",
        "charge",
        "payment_intent",
    ])?;
    let created = p.range("created")?;
    let charge = p.str("charge");
    let pi = p.str("payment_intent");
    let items = tx.store.refunds.iter().filter(|(_, r)| {
        created.contains(r.created)
            && charge.is_none_or(|want| r.charge.as_ref().is_some_and(|x| x.id().as_str() == want))
            && pi.is_none_or(|want| {
                r.payment_intent
                    .as_ref()
                    .is_some_and(|x| x.id().as_str() == want)
            })
    });
    crate::store::page(items, p, "/v1/refunds", json_of)
}

fn money(amount: i64, charge: &Charge) -> String {
    let cur = &charge.currency.to_string();
    if objects::is_zero_decimal(cur) {
        format!("{amount} {cur}")
    } else {
        format!("{}.{:02} {cur}", amount / 100, amount % 100)
    }
}
