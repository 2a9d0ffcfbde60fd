//! PaymentIntents and what confirming one does for each test card: success (directly or
//! through `processing`), a decline with a failed charge, or 3D Secure via the browser.

use std::collections::HashMap;

use serde_json::{Value, json};
use stripe_shared::{ChargeId, PaymentIntent, PaymentIntentStatus, PaymentMethodId};
use stripe_types::Expandable;

use crate::cards::Outcome;
use crate::error::ApiError;
use crate::objects::{self, NewCharge, NewPaymentIntent, json_of, now};
use crate::{KeyKind, Later, Tx};

use super::payment_methods;

const CREATE_PARAMS: &[&str] = &[
    "amount",
    "currency",
    "automatic_payment_methods",
    "metadata",
    "receipt_email",
    "description",
    "payment_method",
    "payment_method_types",
    "confirm",
    "return_url",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "capture_method",
    "setup_future_usage",
    "payment_method_options",
    "confirmation_method",
    "off_session",
];

pub fn create(tx: &mut Tx<'_>) -> Result<Value, ApiError> {
    let p = tx.params;
    p.allow(CREATE_PARAMS)?;
    let amount = p.i64("amount")?.ok_or_else(|| {
        ApiError::invalid(
            "Missing required param: amount.",
            Some("amount"),
            Some("parameter_missing"),
        )
    })?;
    let currency = objects::parse_currency(p.require("currency")?)?;
    objects::check_amount(amount, &currency)?;
    if let Some(method) = p
        .str("capture_method")
        .filter(|m| *m != "automatic" && *m != "automatic_async")
    {
        return Err(ApiError::invalid(
            format!("The stand-in supports only automatic capture, not '{method}'."),
            Some("capture_method"),
            None,
        ));
    }
    let automatic = p.bool("automatic_payment_methods[enabled]")?;
    let types = p.list("payment_method_types");
    if automatic == Some(true) && !types.is_empty() {
        return Err(ApiError::invalid(
            "You may only specify one of these parameters: automatic_payment_methods, payment_method_types.",
            Some("automatic_payment_methods"),
            None,
        ));
    }
    if let Some(bad) = types.iter().find(|t| *t != "card") {
        return Err(ApiError::invalid(
            format!(
                "The payment method type \"{bad}\" is invalid. The stand-in supports \"card\"."
            ),
            Some("payment_method_types"),
            Some("payment_method_invalid_parameter"),
        ));
    }
    let mut metadata = HashMap::new();
    p.apply_metadata(&mut metadata)?;
    let receipt_email = p.str("receipt_email");
    if let Some(email) = receipt_email {
        check_email(email)?;
    }
    let pi = objects::payment_intent(NewPaymentIntent {
        amount,
        currency: &currency,
        metadata,
        description: p.str("description"),
        receipt_email,
        // Omitting both is how current API versions ask for automatic payment methods.
        automatic_payment_methods: types.is_empty(),
        payment_method_types: vec!["card".into()],
    })?;
    let id = pi.id.as_str().to_string();
    tx.store.payment_intents.insert(id.clone(), pi.clone());
    tx.emit("payment_intent.created", json_of(&pi))?;
    if let Some(pm) = p.str("payment_method") {
        let pm_id = resolve_payment_method(tx, pm)?;
        set(tx, &id, |pi| {
            pi.payment_method = Some(Expandable::Id(PaymentMethodId::from(pm_id.as_str())))
        })?;
        if p.bool("confirm")? != Some(true) {
            set(tx, &id, |pi| {
                pi.status = PaymentIntentStatus::RequiresConfirmation
            })?;
        }
    }
    if p.bool("confirm")? == Some(true) {
        return pay(tx, &id);
    }
    view(tx, &id)
}

pub fn retrieve(tx: &mut Tx<'_>, id: &str) -> Result<Value, ApiError> {
    tx.params.allow(&[])?;
    check_client_secret(tx, id)?;
    view(tx, id)
}

pub fn list(tx: &mut Tx<'_>) -> Result<Value, ApiError> {
    let p = tx.params;
    p.allow(&["limit", "starting_after", "ending_before", "created"])?;
    let created = p.range("created")?;
    let items = tx
        .store
        .payment_intents
        .iter()
        .filter(|(_, pi)| created.contains(pi.created));
    crate::store::page(items, p, "/v1/payment_intents", json_of)
}

pub fn update(tx: &mut Tx<'_>, id: &str) -> Result<Value, ApiError> {
    let p = tx.params;
    p.allow(&[
        "amount",
        "currency",
        "metadata",
        "receipt_email",
        "description",
        "payment_method",
        "statement_descriptor",
        "statement_descriptor_suffix",
    ])?;
    let pi = get(tx, id)?.clone();
    let editable = matches!(
        pi.status,
        PaymentIntentStatus::RequiresPaymentMethod
            | PaymentIntentStatus::RequiresConfirmation
            | PaymentIntentStatus::RequiresAction
    );
    if !editable {
        return Err(ApiError::state(
            format!(
                "This PaymentIntent's amount could not be updated because it has a status of {}. You may only update the amount of a PaymentIntent with one of the following statuses: requires_payment_method, requires_confirmation, requires_action.",
                pi.status.as_str()
            ),
            "payment_intent_unexpected_state",
        ));
    }
    let currency = match p.str("currency") {
        Some(c) => objects::parse_currency(c)?,
        None => pi.currency.clone(),
    };
    let amount = p.i64("amount")?.unwrap_or(pi.amount);
    objects::check_amount(amount, &currency)?;
    if let Some(email) = p.str("receipt_email") {
        check_email(email)?;
    }
    let mut metadata = pi.metadata.clone();
    p.apply_metadata(&mut metadata)?;
    let pm = match p.str("payment_method") {
        Some(pm) => Some(resolve_payment_method(tx, pm)?),
        None => None,
    };
    set(tx, id, |pi| {
        pi.amount = amount;
        pi.currency = currency;
        pi.metadata = metadata;
        if let Some(d) = p.get("description") {
            pi.description = (!d.is_empty()).then(|| d.to_string());
        }
        if let Some(e) = p.get("receipt_email") {
            pi.receipt_email = (!e.is_empty()).then(|| e.to_string());
        }
        if let Some(pm) = pm {
            pi.payment_method = Some(Expandable::Id(PaymentMethodId::from(pm.as_str())));
            pi.status = PaymentIntentStatus::RequiresConfirmation;
        }
    })?;
    view(tx, id)
}

pub fn confirm(tx: &mut Tx<'_>, id: &str) -> Result<Value, ApiError> {
    let p = tx.params;
    p.allow(&[
        "payment_method",
        "payment_method_data",
        "return_url",
        "receipt_email",
        "off_session",
        "setup_future_usage",
        "mandate_data",
        "use_stripe_sdk",
        "payment_method_options",
        "shipping",
        "error_on_requires_action",
        "expected_payment_method_type",
    ])?;
    check_client_secret(tx, id)?;
    let pi = get(tx, id)?.clone();
    let confirmable = matches!(
        pi.status,
        PaymentIntentStatus::RequiresPaymentMethod
            | PaymentIntentStatus::RequiresConfirmation
            | PaymentIntentStatus::RequiresAction
    );
    if !confirmable {
        return Err(unexpected_state(&pi, "confirm").with("payment_intent", json_of(&pi)));
    }
    let pm_id = if let Some(pm) = p.str("payment_method") {
        Some(resolve_payment_method(tx, pm)?)
    } else if p.str("payment_method_data[type]").is_some() {
        if p.str("payment_method_data[type]") != Some("card") {
            return Err(ApiError::invalid(
                "The stand-in supports only card payment methods.",
                Some("payment_method_data[type]"),
                None,
            ));
        }
        Some(payment_methods::create_from(
            p,
            "payment_method_data[card]",
            "payment_method_data[billing_details]",
            tx,
        )?)
    } else {
        pi.payment_method
            .as_ref()
            .map(|pm| pm.id().as_str().to_string())
    };
    let Some(pm_id) = pm_id else {
        return Err(ApiError::state(
            "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.",
            "payment_intent_unexpected_state",
        ));
    };
    if let Some(email) = p.str("receipt_email") {
        check_email(email)?;
    }
    let email = p.str("receipt_email").map(str::to_string);
    set(tx, id, |pi| {
        pi.payment_method = Some(Expandable::Id(PaymentMethodId::from(pm_id.as_str())));
        if email.is_some() {
            pi.receipt_email = email;
        }
    })?;
    pay(tx, id)
}

pub fn cancel(tx: &mut Tx<'_>, id: &str) -> Result<Value, ApiError> {
    tx.params.allow(&["cancellation_reason"])?;
    let reason = tx.params.str("cancellation_reason").map(str::to_string);
    if let Some(r) = &reason
        && ![
            "duplicate",
            "fraudulent",
            "requested_by_customer",
            "abandoned",
        ]
        .contains(&r.as_str())
    {
        return Err(ApiError::invalid(
            format!("Invalid cancellation_reason: {r}"),
            Some("cancellation_reason"),
            None,
        ));
    }
    let pi = get(tx, id)?.clone();
    let cancelable = matches!(
        pi.status,
        PaymentIntentStatus::RequiresPaymentMethod
            | PaymentIntentStatus::RequiresConfirmation
            | PaymentIntentStatus::RequiresAction
            | PaymentIntentStatus::RequiresCapture
    );
    if !cancelable {
        return Err(ApiError::state(
            format!(
                "You cannot cancel this PaymentIntent because it has a status of {}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.",
                pi.status.as_str()
            ),
            "payment_intent_unexpected_state",
        ));
    }
    let reason_json = json!(reason);
    let reason = objects::typed(reason_json)?;
    let pi = set(tx, id, |pi| {
        pi.status = PaymentIntentStatus::Canceled;
        pi.canceled_at = Some(now());
        pi.cancellation_reason = reason;
        pi.next_action = None;
    })?;
    tx.emit("payment_intent.canceled", json_of(&pi))?;
    view(tx, id)
}

/// The browser stand-in's answer to the 3D Secure dialog: `outcome=complete` or `fail`.
pub fn authenticate_3ds(tx: &mut Tx<'_>, id: &str) -> Result<Value, ApiError> {
    tx.params.allow(&["outcome"])?;
    check_client_secret(tx, id)?;
    let pi = get(tx, id)?.clone();
    if pi.status != PaymentIntentStatus::RequiresAction {
        return Err(unexpected_state(&pi, "authenticate"));
    }
    match tx.params.require("outcome")? {
        "complete" => {
            succeed_or_process(tx, id)?;
        }
        "fail" => {
            let pm = pi
                .payment_method
                .as_ref()
                .map(|p| p.id().as_str().to_string());
            let pm_json =
                pm.and_then(|p| tx.store.payment_methods.get(&p).map(|(pm, _)| json_of(pm)));
            let error = json!({
                "type": "invalid_request_error",
                "code": "payment_intent_authentication_failure",
                "message": "We are unable to authenticate your payment method. Please choose a different payment method and try again.",
                "payment_method": pm_json,
                "doc_url": "https://stripe.com/docs/error-codes/payment-intent-authentication-failure",
            });
            let error = objects::typed(error)?;
            let pi = set(tx, id, |pi| {
                pi.status = PaymentIntentStatus::RequiresPaymentMethod;
                pi.next_action = None;
                pi.payment_method = None;
                pi.last_payment_error = Some(Box::new(error));
            })?;
            tx.emit("payment_intent.payment_failed", json_of(&pi))?;
        }
        other => {
            return Err(ApiError::invalid(
                format!("Invalid outcome: {other}"),
                Some("outcome"),
                None,
            ));
        }
    }
    view(tx, id)
}

/// Finishes a payment that sat in `processing`, if it still does.
pub fn settle_processing(tx: &mut Tx<'_>, id: &str) -> Result<(), ApiError> {
    if get(tx, id)?.status == PaymentIntentStatus::Processing {
        succeed(tx, id)?;
    }
    Ok(())
}

/// Confirms with the attached payment method and applies its test card's outcome.
fn pay(tx: &mut Tx<'_>, id: &str) -> Result<Value, ApiError> {
    let pi = get(tx, id)?.clone();
    let pm_id = pi
        .payment_method
        .as_ref()
        .map(|p| p.id().as_str().to_string())
        .unwrap_or_default();
    let (pm, card) = tx
        .store
        .payment_methods
        .get(&pm_id)
        .cloned()
        .ok_or_else(|| ApiError::missing("payment_method", &pm_id, "payment_method"))?;
    match card.outcome {
        Outcome::Succeed => {
            succeed_or_process(tx, id)?;
            view(tx, id)
        }
        Outcome::RequireAuthentication => {
            let source = objects::new_id("src");
            let action = json!({
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {
                    "type": "three_d_secure_redirect",
                    "stripe_js": format!("{}/_standin/3ds/{}", tx.base_url, id),
                    "source": source,
                },
            });
            let action = objects::typed(action)?;
            let pi = set(tx, id, |pi| {
                pi.status = PaymentIntentStatus::RequiresAction;
                pi.next_action = Some(action);
                pi.last_payment_error = None;
            })?;
            tx.emit("payment_intent.requires_action", json_of(&pi))?;
            view(tx, id)
        }
        Outcome::Decline(decline) => {
            let charge = objects::charge(NewCharge {
                payment_intent: &pi,
                payment_method: &pm,
                failure: Some((decline.code, decline.decline_code, decline.message)),
            })?;
            let charge_id = charge.id.as_str().to_string();
            tx.store.charges.insert(charge_id.clone(), charge.clone());
            let error = json!({
                "type": "card_error",
                "code": decline.code,
                "decline_code": decline.decline_code,
                "message": decline.message,
                "charge": charge_id,
                "payment_method": json_of(&pm),
                "doc_url": format!("https://stripe.com/docs/error-codes/{}", decline.code.replace('_', "-")),
            });
            let last_error = objects::typed(error)?;
            let pi = set(tx, id, |pi| {
                pi.status = PaymentIntentStatus::RequiresPaymentMethod;
                pi.payment_method = None;
                pi.next_action = None;
                pi.latest_charge = Some(Expandable::Id(ChargeId::from(charge_id.as_str())));
                pi.last_payment_error = Some(Box::new(last_error));
            })?;
            tx.emit("charge.failed", json_of(&charge))?;
            tx.emit("payment_intent.payment_failed", json_of(&pi))?;
            Err(
                ApiError::card(decline.code, Some(decline.decline_code), decline.message)
                    .with("charge", charge_id.into())
                    .with("payment_intent", json_of(&pi))
                    .with("payment_method", json_of(&pm))
                    .with(
                        "doc_url",
                        format!(
                            "https://stripe.com/docs/error-codes/{}",
                            decline.code.replace('_', "-")
                        )
                        .into(),
                    ),
            )
        }
    }
}

fn succeed_or_process(tx: &mut Tx<'_>, id: &str) -> Result<(), ApiError> {
    let delay = tx.store.config.processing_ms;
    if delay == 0 {
        return succeed(tx, id);
    }
    let pi = set(tx, id, |pi| {
        pi.status = PaymentIntentStatus::Processing;
        pi.next_action = None;
    })?;
    tx.emit("payment_intent.processing", json_of(&pi))?;
    tx.later.push(Later::Settle {
        payment_intent: id.to_string(),
        after_ms: delay,
    });
    Ok(())
}

fn succeed(tx: &mut Tx<'_>, id: &str) -> Result<(), ApiError> {
    let pi = get(tx, id)?.clone();
    let pm_id = pi
        .payment_method
        .as_ref()
        .map(|p| p.id().as_str().to_string())
        .unwrap_or_default();
    let (pm, card) = tx
        .store
        .payment_methods
        .get(&pm_id)
        .cloned()
        .ok_or_else(|| ApiError::missing("payment_method", &pm_id, "payment_method"))?;
    let charge = objects::charge(NewCharge {
        payment_intent: &pi,
        payment_method: &pm,
        failure: None,
    })?;
    let charge_id = charge.id.as_str().to_string();
    tx.store.charges.insert(charge_id.clone(), charge.clone());
    let pi = set(tx, id, |pi| {
        pi.status = PaymentIntentStatus::Succeeded;
        pi.amount_received = pi.amount;
        pi.next_action = None;
        pi.last_payment_error = None;
        pi.latest_charge = Some(Expandable::Id(ChargeId::from(charge_id.as_str())));
    })?;
    tx.emit("charge.succeeded", json_of(&charge))?;
    tx.emit("payment_intent.succeeded", json_of(&pi))?;
    if card.disputed {
        super::disputes::open(tx, &charge_id)?;
    }
    Ok(())
}

fn resolve_payment_method(tx: &mut Tx<'_>, pm: &str) -> Result<String, ApiError> {
    if tx.store.payment_methods.get(pm).is_some() {
        return Ok(pm.to_string());
    }
    payment_methods::from_alias(pm, tx)?
        .ok_or_else(|| ApiError::missing("PaymentMethod", pm, "payment_method"))
}

fn get<'s>(tx: &'s Tx<'_>, id: &str) -> Result<&'s PaymentIntent, ApiError> {
    tx.store
        .payment_intents
        .get(id)
        .ok_or_else(|| ApiError::missing("payment_intent", id, "intent"))
}

fn set(
    tx: &mut Tx<'_>,
    id: &str,
    f: impl FnOnce(&mut PaymentIntent),
) -> Result<PaymentIntent, ApiError> {
    let pi = tx
        .store
        .payment_intents
        .get_mut(id)
        .ok_or_else(|| ApiError::missing("payment_intent", id, "intent"))?;
    f(pi);
    Ok(pi.clone())
}

/// The PaymentIntent as JSON, with `latest_charge` and `payment_method` expanded on request.
fn view(tx: &Tx<'_>, id: &str) -> Result<Value, ApiError> {
    let pi = get(tx, id)?;
    let mut out = json_of(pi);
    for field in tx.params.list("expand") {
        match field.as_str() {
            "latest_charge" => {
                if let Some(ch) = pi
                    .latest_charge
                    .as_ref()
                    .and_then(|c| tx.store.charges.get(c.id().as_str()))
                {
                    out["latest_charge"] = json_of(ch);
                }
            }
            "payment_method" => {
                if let Some((pm, _)) = pi
                    .payment_method
                    .as_ref()
                    .and_then(|p| tx.store.payment_methods.get(p.id().as_str()))
                {
                    out["payment_method"] = json_of(pm);
                }
            }
            other => {
                return Err(ApiError::invalid(
                    format!("This property cannot be expanded ({other})."),
                    Some("expand"),
                    None,
                ));
            }
        }
    }
    Ok(out)
}

/// The browser may only touch a PaymentIntent whose client secret it holds.
fn check_client_secret(tx: &Tx<'_>, id: &str) -> Result<(), ApiError> {
    if tx.auth.kind == KeyKind::Secret {
        return Ok(());
    }
    let pi = get(tx, id)?;
    match tx.params.str("client_secret") {
        Some(s) if Some(s) == pi.client_secret.as_deref() => Ok(()),
        Some(_) => Err(ApiError::invalid(
            "The client_secret provided does not match any associated PaymentIntent on this account.",
            Some("client_secret"),
            Some("payment_intent_invalid_parameter"),
        )),
        None => Err(ApiError::invalid(
            "Missing required param: client_secret.",
            Some("client_secret"),
            Some("parameter_missing"),
        )),
    }
}

fn unexpected_state(pi: &PaymentIntent, verb: &str) -> ApiError {
    ApiError::state(
        format!(
            "You cannot {verb} this PaymentIntent because it has a status of {}.",
            pi.status.as_str()
        ),
        "payment_intent_unexpected_state",
    )
}

fn check_email(email: &str) -> Result<(), ApiError> {
    let valid = email.len() <= 512
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>');
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(
            format!("Invalid email address: {email}"),
            Some("receipt_email"),
            Some("email_invalid"),
        ))
    }
}
