//! Stripe's documented test cards and what each one does when a payment is confirmed.

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeed,
    Decline(Decline),
    /// 3D Secure is required; the payment succeeds once the shopper completes it.
    RequireAuthentication,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decline {
    pub code: &'static str,
    pub decline_code: &'static str,
    pub message: &'static str,
}

const GENERIC: Decline = Decline {
    code: "card_declined",
    decline_code: "generic_decline",
    message: "Your card was declined.",
};
const INSUFFICIENT_FUNDS: Decline = Decline {
    code: "card_declined",
    decline_code: "insufficient_funds",
    message: "Your card has insufficient funds.",
};
const EXPIRED: Decline = Decline {
    code: "expired_card",
    decline_code: "expired_card",
    message: "Your card has expired.",
};
const INCORRECT_CVC: Decline = Decline {
    code: "incorrect_cvc",
    decline_code: "incorrect_cvc",
    message: "Your card's security code is incorrect.",
};
const LIVE_CARD: Decline = Decline {
    code: "card_declined",
    decline_code: "test_mode_live_card",
    message: "Your card was declined. Your request was in test mode, but used a non test (live) card. For a list of valid test cards, visit: https://stripe.com/docs/testing.",
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestCard {
    pub number: &'static str,
    pub brand: &'static str,
    pub funding: &'static str,
    pub country: &'static str,
    pub outcome: Outcome,
    /// The payment succeeds and is then disputed as fraudulent (Stripe's 0259 card).
    pub disputed: bool,
}

const fn card(number: &'static str, brand: &'static str, outcome: Outcome) -> TestCard {
    TestCard {
        number,
        brand,
        funding: "credit",
        country: "US",
        outcome,
        disputed: false,
    }
}

const fn disputed(number: &'static str, brand: &'static str) -> TestCard {
    TestCard {
        disputed: true,
        ..card(number, brand, Outcome::Succeed)
    }
}

/// The cards the stand-in knows, by number.
pub const CARDS: &[TestCard] = &[
    card("4242424242424242", "visa", Outcome::Succeed),
    card("4000056655665556", "visa", Outcome::Succeed),
    card("5555555555554444", "mastercard", Outcome::Succeed),
    card("2223003122003222", "mastercard", Outcome::Succeed),
    card("378282246310005", "amex", Outcome::Succeed),
    card("3566002020360505", "jcb", Outcome::Succeed),
    card("4000000000000002", "visa", Outcome::Decline(GENERIC)),
    card(
        "4000000000009995",
        "visa",
        Outcome::Decline(INSUFFICIENT_FUNDS),
    ),
    card("4000000000000069", "visa", Outcome::Decline(EXPIRED)),
    card("4000000000000127", "visa", Outcome::Decline(INCORRECT_CVC)),
    card("4000002500003155", "visa", Outcome::RequireAuthentication),
    card("4000002760003184", "visa", Outcome::RequireAuthentication),
    disputed("4000000000000259", "visa"),
];

/// Stripe's ready-made PaymentMethod ids (`pm_card_visa`, ...) and the card each stands for.
pub const PAYMENT_METHOD_ALIASES: &[(&str, &str)] = &[
    ("pm_card_visa", "4242424242424242"),
    ("pm_card_visa_debit", "4000056655665556"),
    ("pm_card_mastercard", "5555555555554444"),
    ("pm_card_amex", "378282246310005"),
    ("pm_card_jcb", "3566002020360505"),
    ("pm_card_visa_chargeDeclined", "4000000000000002"),
    ("pm_card_chargeDeclined", "4000000000000002"),
    (
        "pm_card_visa_chargeDeclinedInsufficientFunds",
        "4000000000009995",
    ),
    (
        "pm_card_chargeDeclinedInsufficientFunds",
        "4000000000009995",
    ),
    ("pm_card_chargeDeclinedExpiredCard", "4000000000000069"),
    ("pm_card_chargeDeclinedIncorrectCvc", "4000000000000127"),
    ("pm_card_authenticationRequiredOnSetup", "4000002500003155"),
    ("pm_card_authenticationRequired", "4000002760003184"),
    ("pm_card_createDispute", "4000000000000259"),
];

pub fn alias(id: &str) -> Option<&'static TestCard> {
    PAYMENT_METHOD_ALIASES
        .iter()
        .find(|(alias, _)| *alias == id)
        .and_then(|(_, number)| CARDS.iter().find(|c| c.number == *number))
}

/// Reads a card number as typed (spaces and dashes allowed) and finds its behaviour. A number
/// that passes the Luhn check but is not a test card is declined, as Stripe does in test mode.
pub fn lookup(raw: &str) -> Result<TestCard, ApiError> {
    let number: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let incorrect = || {
        ApiError::card("incorrect_number", None, "Your card number is incorrect.")
            .with("param", "card[number]".into())
    };
    if number.len() < 12 || number.len() > 19 || !number.chars().all(|c| c.is_ascii_digit()) {
        return Err(incorrect());
    }
    if !luhn(&number) {
        return Err(incorrect());
    }
    if let Some(card) = CARDS.iter().find(|c| c.number == number) {
        return Ok(*card);
    }
    Ok(TestCard {
        number: "",
        brand: brand_of(&number),
        funding: "unknown",
        country: "US",
        outcome: Outcome::Decline(LIVE_CARD),
        disputed: false,
    })
}

fn brand_of(number: &str) -> &'static str {
    match number.as_bytes()[0] {
        b'4' => "visa",
        b'5' | b'2' => "mastercard",
        b'3' => "amex",
        _ => "unknown",
    }
}

pub fn luhn(number: &str) -> bool {
    let mut sum = 0;
    for (i, c) in number.chars().rev().enumerate() {
        let Some(mut d) = c.to_digit(10) else {
            return false;
        };
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_test_card_passes_the_luhn_check() {
        for card in CARDS {
            assert!(luhn(card.number), "{}", card.number);
        }
    }

    #[test]
    fn a_mistyped_number_is_refused_as_incorrect() {
        let err = lookup("4242 4242 4242 4241").unwrap_err();
        assert_eq!(err.body()["code"], "incorrect_number");
    }

    #[test]
    fn spaces_in_a_typed_number_are_ignored() {
        assert_eq!(
            lookup("4000 0000 0000 9995").unwrap().outcome,
            Outcome::Decline(INSUFFICIENT_FUNDS)
        );
    }
}
