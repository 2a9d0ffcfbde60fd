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

pub const AMOUNT_UNREADABLE: &str = "Please enter an amount, such as 12.50.";
pub const AMOUNT_WHOLE: &str = "This currency has no smaller unit: please enter a whole amount.";
pub const AMOUNT_DECIMALS: &str = "Please enter at most two digits after the decimal point.";
pub const AMOUNT_COMMA: &str =
    "Please use a point for decimals (12.50); a comma may only group thousands (1,250.00).";

/// What a typed amount could not be read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("{}", AMOUNT_UNREADABLE)]
    Unreadable,
    #[error("{}", AMOUNT_WHOLE)]
    NoMinorUnit,
    #[error("{}", AMOUNT_DECIMALS)]
    TooManyDecimals,
    /// A comma that does not group thousands: `12,50` may mean 12.50 or 1,250.
    #[error("{}", AMOUNT_COMMA)]
    Comma,
}

impl Currency {
    /// An amount as a person types it in this currency (`12.50`, `$1,234.5`, `¥1,500`) in
    /// minor units: grouping commas and the currency's symbol are allowed, and as many digits
    /// after the point as the currency has (none for JPY). Zero and negative amounts read as
    /// such; whether they are allowed is the caller's rule.
    pub fn parse_amount(self, typed: &str) -> Result<i64, AmountError> {
        let trimmed = typed.trim();
        let typed = trimmed
            .strip_prefix(self.symbol().trim())
            .unwrap_or(trimmed)
            .trim();
        // A comma only ever groups thousands: `12,50` is refused rather than read as 1250.
        let whole_part = typed.split('.').next().unwrap_or_default();
        if whole_part.contains(',') {
            let mut groups = whole_part.split(',');
            let first = groups.next().unwrap_or_default();
            let grouped = (1..=3).contains(&first.len()) && groups.all(|g| g.len() == 3);
            if !grouped {
                return Err(AmountError::Comma);
            }
        }
        if typed
            .split('.')
            .nth(1)
            .is_some_and(|minor| minor.contains(','))
        {
            return Err(AmountError::Comma);
        }
        let unsigned = typed.replace(',', "");
        let (major, minor) = match unsigned.split_once('.') {
            Some((major, minor)) => (major, minor),
            None => (unsigned.as_str(), ""),
        };
        let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if major.is_empty() && minor.is_empty() || !digits(major) || !digits(minor) {
            return Err(AmountError::Unreadable);
        }
        let exp = self.exponent() as usize;
        if unsigned.contains('.') && exp == 0 {
            return Err(AmountError::NoMinorUnit);
        }
        if minor.len() > exp {
            return Err(AmountError::TooManyDecimals);
        }
        let scale = 10_i64.pow(self.exponent());
        let major: i64 = if major.is_empty() {
            0
        } else {
            major.parse().map_err(|_| AmountError::Unreadable)?
        };
        let minor: i64 = if minor.is_empty() {
            0
        } else {
            format!("{minor:0<exp$}")
                .parse()
                .map_err(|_| AmountError::Unreadable)?
        };
        major
            .checked_mul(scale)
            .and_then(|m| m.checked_add(minor))
            .ok_or(AmountError::Unreadable)
    }

    /// The smallest charge Stripe takes in this currency, in minor units (its documented
    /// minimums, about half a dollar).
    pub fn minimum_charge(self) -> i64 {
        match self {
            Currency::Usd | Currency::Eur | Currency::Chf | Currency::Cad | Currency::Aud => 50,
            Currency::Gbp => 30,
            Currency::Jpy => 50,
            Currency::Krw => 100,
        }
    }

    /// An amount of minor units as a person reads it, for totals that may be zero or negative
    /// (a day's sales less its refunds): `$0.00`, `−¥1,500`.
    pub fn format(self, minor: i64) -> String {
        let sign = if minor < 0 { "−" } else { "" };
        let exp = self.exponent();
        let scale = 10_i64.pow(exp);
        let abs = minor.unsigned_abs();
        let major = (abs / scale as u64) as i64;
        let rest = abs % scale as u64;
        let mut out = format!("{sign}{}{}", self.symbol(), group_thousands(major));
        if exp > 0 {
            out.push_str(&format!(".{:0width$}", rest, width = exp as usize));
        }
        out
    }

    /// An amount of minor units as the admin's forms show it for editing: `12.50`, `1500`.
    pub fn plain(self, minor: i64) -> String {
        let exp = self.exponent();
        if exp == 0 {
            return minor.to_string();
        }
        let scale = 10_i64.pow(exp);
        format!(
            "{}.{:0width$}",
            minor / scale,
            (minor % scale).abs(),
            width = exp as usize
        )
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
    fn typed_amounts_read_in_the_currencys_own_format() {
        assert_eq!(Currency::Usd.parse_amount("12.50"), Ok(1250));
        assert_eq!(Currency::Usd.parse_amount("12.5"), Ok(1250));
        assert_eq!(Currency::Usd.parse_amount("$1,234"), Ok(123_400));
        assert_eq!(Currency::Usd.parse_amount(" .05 "), Ok(5));
        assert_eq!(Currency::Jpy.parse_amount("¥1,500"), Ok(1500));
        assert_eq!(Currency::Jpy.parse_amount("1500"), Ok(1500));
        assert_eq!(Currency::Usd.parse_amount("0"), Ok(0));
    }

    #[test]
    fn a_comma_is_read_only_as_a_thousands_separator() {
        assert_eq!(Currency::Eur.parse_amount("1,250.50"), Ok(125_050));
        assert_eq!(Currency::Jpy.parse_amount("12,345,678"), Ok(12_345_678));
        for ambiguous in ["1,50", "12,5", "1,2345", ",500", "1.250,00"] {
            assert_eq!(
                Currency::Eur.parse_amount(ambiguous),
                Err(AmountError::Comma),
                "{ambiguous}"
            );
        }
    }

    #[test]
    fn typed_amounts_that_mean_nothing_or_too_little_are_refused() {
        assert_eq!(
            Currency::Jpy.parse_amount("15.00"),
            Err(AmountError::NoMinorUnit)
        );
        assert_eq!(
            Currency::Usd.parse_amount("1.005"),
            Err(AmountError::TooManyDecimals)
        );
        for junk in [
            "",
            ".",
            "-5",
            "1e3",
            "12.5.0",
            "abc",
            "€5",
            "99999999999999999999",
        ] {
            assert_eq!(
                Currency::Usd.parse_amount(junk),
                Err(AmountError::Unreadable),
                "{junk}"
            );
        }
    }

    #[test]
    fn totals_show_zero_and_negative_amounts() {
        assert_eq!(Currency::Usd.format(0), "$0.00");
        assert_eq!(Currency::Usd.format(-250), "−$2.50");
        assert_eq!(Currency::Jpy.format(-1500), "−¥1,500");
        assert_eq!(Currency::Usd.plain(1250), "12.50");
        assert_eq!(Currency::Jpy.plain(1500), "1500");
    }

    #[test]
    fn currency_codes_parse_in_any_case_and_unknown_ones_are_errors() {
        assert_eq!("JPY".parse::<Currency>().unwrap(), Currency::Jpy);
        assert!("xyz".parse::<Currency>().is_err());
    }
}
