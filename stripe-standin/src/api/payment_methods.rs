//! PaymentMethods: cards created from typed card details (by Stripe.js or the API) and
//! Stripe's ready-made `pm_card_*` ids.

use serde_json::Value;

use crate::Tx;
use crate::cards::{self, TestCard};
use crate::error::ApiError;
use crate::objects::{self, json_of};
use crate::params::Params;

pub fn create(tx: &mut Tx<'_>) -> Result<Value, ApiError> {
    tx.params.allow(&[
        "type",
        "card",
        "billing_details",
        "metadata",
        "allow_redisplay",
        "payment_user_agent",
        "time_on_page",
        "guid",
        "muid",
        "sid",
    ])?;
    let kind = tx.params.require("type")?;
    if kind != "card" {
        return Err(ApiError::invalid(
            format!("The stand-in supports only card payment methods, not '{kind}'."),
            Some("type"),
            Some("payment_method_invalid_parameter"),
        ));
    }
    let id = create_from(tx.params, "card", "billing_details", tx)?;
    Ok(json_of(
        &tx.store.payment_methods.get(&id).expect("just inserted").0,
    ))
}

/// Reads `{card}[number|exp_month|exp_year|cvc]` and `{billing}[email|name]`, stores the new
/// PaymentMethod and returns its id.
pub fn create_from(
    params: &Params,
    card: &str,
    billing: &str,
    tx: &mut Tx<'_>,
) -> Result<String, ApiError> {
    let number = params.require(&format!("{card}[number]"))?;
    let test_card = cards::lookup(number)?;
    let digits: String = number.chars().filter(|c| c.is_ascii_digit()).collect();
    let last4 = &digits[digits.len() - 4..];
    let month = params.i64(&format!("{card}[exp_month]"))?.ok_or_else(|| {
        ApiError::card(
            "invalid_expiry_month",
            None,
            "Your card's expiration month is invalid.",
        )
        .with("param", format!("{card}[exp_month]").into())
    })?;
    let mut year = params.i64(&format!("{card}[exp_year]"))?.ok_or_else(|| {
        ApiError::card(
            "invalid_expiry_year",
            None,
            "Your card's expiration year is invalid.",
        )
        .with("param", format!("{card}[exp_year]").into())
    })?;
    if year < 100 {
        year += 2000;
    }
    if !(1..=12).contains(&month) {
        return Err(ApiError::card(
            "invalid_expiry_month",
            None,
            "Your card's expiration month is invalid.",
        )
        .with("param", format!("{card}[exp_month]").into()));
    }
    let (this_year, this_month) = current_year_month();
    if year < this_year || (year == this_year && month < this_month) || year > this_year + 50 {
        return Err(ApiError::card(
            "invalid_expiry_year",
            None,
            "Your card's expiration year is invalid.",
        )
        .with("param", format!("{card}[exp_year]").into()));
    }
    if let Some(cvc) = params.str(&format!("{card}[cvc]")) {
        let ok = (3..=4).contains(&cvc.len()) && cvc.chars().all(|c| c.is_ascii_digit());
        if !ok {
            return Err(ApiError::card(
                "invalid_cvc",
                None,
                "Your card's security code is invalid.",
            )
            .with("param", format!("{card}[cvc]").into()));
        }
    }
    let pm = objects::payment_method(
        &test_card,
        last4,
        month,
        year,
        params.str(&format!("{billing}[email]")),
        params.str(&format!("{billing}[name]")),
    )?;
    Ok(store(tx, pm, test_card))
}

/// A `pm_card_*` id makes a fresh PaymentMethod for that test card, as on Stripe.
pub fn from_alias(alias: &str, tx: &mut Tx<'_>) -> Result<Option<String>, ApiError> {
    let Some(card) = cards::alias(alias) else {
        return Ok(None);
    };
    let last4 = &card.number[card.number.len() - 4..];
    let pm = objects::payment_method(card, last4, 12, current_year_month().0 + 3, None, None)?;
    Ok(Some(store(tx, pm, *card)))
}

fn store(tx: &mut Tx<'_>, pm: stripe_shared::PaymentMethod, card: TestCard) -> String {
    let id = pm.id.as_str().to_string();
    tx.store.payment_methods.insert(id.clone(), (pm, card));
    id
}

fn current_year_month() -> (i64, i64) {
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let days = objects::now().div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month)
}
