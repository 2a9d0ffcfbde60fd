//! Money in integer minor units with its currency. Every amount the shop stores, charges or
//! shows goes through `Money`, so zero-decimal currencies (JPY, KRW) are handled in one place.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The currencies the shop sells in, with how many minor units make one major unit. Stored as
/// Stripe writes them (`usd`, `jpy`), and read from the database straight into this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "text", rename_all = "lowercase"))]
#[serde(rename_all = "lowercase")]
pub enum Currency {
    Usd,
    Eur,
    Gbp,
    Jpy,
    Krw,
    Chf,
    Cad,
    Aud,
}

impl Currency {
    pub const ALL: [Currency; 8] = [
        Currency::Usd,
        Currency::Eur,
        Currency::Gbp,
        Currency::Jpy,
        Currency::Krw,
        Currency::Chf,
        Currency::Cad,
        Currency::Aud,
    ];

    /// ISO 4217 code in lowercase, as Stripe writes it.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "usd",
            Currency::Eur => "eur",
            Currency::Gbp => "gbp",
            Currency::Jpy => "jpy",
            Currency::Krw => "krw",
            Currency::Chf => "chf",
            Currency::Cad => "cad",
            Currency::Aud => "aud",
        }
    }

    /// Digits after the decimal point: 0 for Stripe's zero-decimal currencies.
    pub fn exponent(self) -> u32 {
        match self {
            Currency::Jpy | Currency::Krw => 0,
            _ => 2,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Currency::Usd => "$",
            Currency::Eur => "€",
            Currency::Gbp => "£",
            Currency::Jpy => "¥",
            Currency::Krw => "₩",
            Currency::Chf => "CHF ",
            Currency::Cad => "CA$",
            Currency::Aud => "A$",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported currency: {0}")]
pub struct UnknownCurrency(pub String);

impl FromStr for Currency {
    type Err = UnknownCurrency;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Currency::ALL
            .into_iter()
            .find(|c| c.code() == lower)
            .ok_or(UnknownCurrency(s.to_string()))
    }
}

/// An amount of money: integer minor units (cents; whole yen) and a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("an amount must be positive")]
    NotPositive,
    #[error("an amount must be at most 99,999,999 minor units")]
    TooLarge,
}

impl Money {
    /// Stripe's upper bound for one charge, in minor units.
    pub const MAX_MINOR: i64 = 99_999_999;

    pub fn new(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if minor <= 0 {
            return Err(MoneyError::NotPositive);
        }
        if minor > Self::MAX_MINOR {
            return Err(MoneyError::TooLarge);
        }
        Ok(Self { minor, currency })
    }

    pub fn minor(self) -> i64 {
        self.minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }
}

impl fmt::Display for Money {
    /// `$19.99`, `€9.00`, `¥1,500`: the symbol, grouped major units, minor digits if any.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exp = self.currency.exponent();
        let scale = 10_i64.pow(exp);
        let major = self.minor / scale;
        let rest = self.minor % scale;
        write!(f, "{}{}", self.currency.symbol(), group_thousands(major))?;
        if exp > 0 {
            write!(f, ".{:0width$}", rest, width = exp as usize)?;
        }
        Ok(())
    }
}

/// A whole number with thousands separated by commas: `1234567` as `1,234,567`.
pub fn group_thousands(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_are_shown_with_two_decimals() {
        assert_eq!(
            Money::new(1999, Currency::Usd).unwrap().to_string(),
            "$19.99"
        );
        assert_eq!(Money::new(900, Currency::Eur).unwrap().to_string(), "€9.00");
        assert_eq!(
            Money::new(12_345_678, Currency::Gbp).unwrap().to_string(),
            "£123,456.78"
        );
    }

    #[test]
    fn yen_have_no_minor_unit() {
        assert_eq!(
            Money::new(1500, Currency::Jpy).unwrap().to_string(),
            "¥1,500"
        );
        assert_eq!(Currency::Jpy.exponent(), 0);
    }

    #[test]
    fn zero_negative_and_oversized_amounts_are_refused() {
        assert_eq!(Money::new(0, Currency::Usd), Err(MoneyError::NotPositive));
        assert_eq!(Money::new(-5, Currency::Usd), Err(MoneyError::NotPositive));
        assert_eq!(
            Money::new(100_000_000, Currency::Usd),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn currency_codes_parse_in_any_case_and_unknown_ones_are_errors() {
        assert_eq!("JPY".parse::<Currency>().unwrap(), Currency::Jpy);
        assert!("xyz".parse::<Currency>().is_err());
    }
}
