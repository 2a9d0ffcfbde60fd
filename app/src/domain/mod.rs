//! Values that carry their own rules: money, an order's public id, a shopper's email, a
//! product slug and kind, an order's status. Each is parsed once at the boundary (a request,
//! a database row) and trusted after. The bottom of the crate: it imports nothing from it.

mod money;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use money::{
    AMOUNT_COMMA, AMOUNT_DECIMALS, AMOUNT_UNREADABLE, AMOUNT_WHOLE, AmountError, Currency, Money,
    MoneyError, UnknownCurrency, group_thousands,
};

/// The public, unguessable id of an order (`ord_` and 26 base-32 characters: 130 random bits).
/// Order pages are reachable only through it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderId(String);

const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

impl OrderId {
    #[cfg(feature = "ssr")]
    pub fn generate() -> Self {
        use rand::Rng;
        let mut rng = rand::rng();
        let tail: String = (0..26)
            .map(|_| ALPHABET[rng.random_range(0..32)] as char)
            .collect();
        Self(format!("ord_{tail}"))
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let ok = raw.len() == 30
            && raw.starts_with("ord_")
            && raw[4..].bytes().all(|b| ALPHABET.contains(&b));
        if ok {
            Ok(Self(raw.to_string()))
        } else {
            Err(InvalidInput("That order link is not valid."))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A shopper's email address, trimmed and checked for a plausible shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// What a shopper reads for input the shop refuses (also matched by the account pages, which
/// show only the shop's own messages).
pub const BAD_EMAIL: &str = "Please enter a valid email address.";
pub const SHORT_PASSWORD: &str = "Please choose a password of at least 10 characters.";
pub const LONG_PASSWORD: &str = "Please choose a shorter password.";
/// Said when the balance does not cover an unlock.
pub const NOT_ENOUGH_CREDITS: &str =
    "You don't have enough credits for this. Buy a credit pack, or pay for it instead.";
/// Said for an unlock of a product that has no credit price.
pub const NOT_FOR_CREDITS: &str = "This product can't be unlocked with credits.";
/// Said when a product's credit price changed since its page was shown.
pub const CREDIT_PRICE_CHANGED: &str =
    "The credit price of this product has changed. Please look at it again.";
/// Said for "Add to library" on a product that is not free.
pub const NOT_FREE: &str = "This product isn't free.";
/// Said for a checkout of a free product.
pub const FREE_NOT_SOLD: &str = "This product is free: add it to your library instead.";
/// Said for a form whose one-time key is missing or malformed (not made by this shop).
pub const RELOAD_AND_RETRY: &str = "Please reload the page and try again.";
/// Said when the refund the shopper confirmed is no longer what is on offer (credits were
/// spent in another tab, or a refund came through meanwhile).
pub const REFUND_CHANGED: &str =
    "The amount you can get back has changed. Please look at it again before confirming.";
/// Said for a refund of an order that cannot be refunded from the account.
pub const NOT_REFUNDABLE: &str = "This order can't be refunded from your account.";
/// Said when the refund window of an order has passed.
pub const REFUND_WINDOW_PASSED: &str = "The time to ask for a refund of this order has passed.";
/// Said for a refund of an order whose payment is disputed.
pub const REFUND_DISPUTED: &str =
    "This payment is disputed with your bank, so it can't be refunded here.";
/// Said for a refund of an order that was refunded in full.
pub const ALREADY_REFUNDED: &str = "This order was refunded.";
/// Said for a refund of a pack whose credits were all spent.
pub const PACK_SPENT: &str =
    "This pack's credits have been used, so there is nothing left to refund.";
/// Said when Stripe refused a refund for good.
pub const REFUND_REFUSED: &str =
    "We couldn't refund this order automatically. Please contact us and we'll sort it out.";

/// Said to an admin refunding an order that took no money through Stripe, or is not paid.
pub const NOT_REFUNDABLE_ADMIN: &str = "Only an order paid through Stripe can be refunded.";
/// Said to an admin refunding nothing.
pub const REFUND_AMOUNT_POSITIVE: &str = "Please enter an amount to refund above zero.";
/// Said to an admin refunding more than is left of a payment.
pub const REFUND_MORE_THAN_LEFT: &str =
    "That is more than is left to refund of this payment. Please enter a smaller amount.";
/// Said to an admin refunding an order while another refund of it is on its way.
pub const REFUND_UNDER_WAY: &str =
    "A refund of this order is on its way. Please wait for it before making another.";
/// Said to an admin when Stripe refused a refund for good.
pub const REFUND_REFUSED_ADMIN: &str =
    "Stripe refused this refund. The order's refunds below say why.";

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let s = raw.trim();
        let bad = InvalidInput(BAD_EMAIL);
        if s.is_empty()
            || s.len() > 254
            || s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c))
        {
            return Err(bad);
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(bad);
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .split('.')
                .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(bad);
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A product's URL name: lowercase letters, digits and single dashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProductSlug(String);

impl ProductSlug {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let ok = (1..=80).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-')
            && !raw.ends_with('-')
            && !raw.contains("--");
        if ok {
            Ok(Self(raw.to_string()))
        } else {
            Err(InvalidInput("No such product."))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `TryFrom<String>` through the parser and back into `String`, for types whose only way in
/// is `parse`, so serde can never build one that skipped it.
macro_rules! parsed_string {
    ($($name:ident),*) => {$(
        impl TryFrom<String> for $name {
            type Error = InvalidInput;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

parsed_string!(OrderId, Email, ProductSlug);

/// What a purchase gives: a file to download, a pack of credits, or a membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "text", rename_all = "lowercase"))]
#[serde(rename_all = "lowercase")]
pub enum ProductKind {
    Download,
    Credits,
    Membership,
}

impl ProductKind {
    pub fn label(self) -> &'static str {
        match self {
            ProductKind::Download => "Download",
            ProductKind::Credits => "Credit pack",
            ProductKind::Membership => "Membership",
        }
    }
}

/// A message for the shopper about input that could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub &'static str);

/// Where a dispute (chargeback) of an order's payment stands. Closed ones never reopen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(
    feature = "ssr",
    sqlx(type_name = "dispute_status", rename_all = "snake_case")
)]
#[serde(rename_all = "snake_case")]
pub enum DisputeStatus {
    /// The buyer's bank disputes the payment; what the order granted is suspended.
    Open,
    /// Decided for the shop: the grant is restored.
    Won,
    /// Decided for the buyer: the money went back and the grant is revoked.
    Lost,
}

/// Where an order stands. Payments only ever move it forward: see `OrderStatus::rank`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(
    feature = "ssr",
    sqlx(type_name = "order_status", rename_all = "snake_case")
)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Created; no payment attempt has finished yet.
    Pending,
    /// The last attempt failed (declined, authentication refused); the shopper may retry.
    Failed,
    /// The payment is on its way (Stripe's `processing`).
    Processing,
    Paid,
    PartiallyRefunded,
    Refunded,
    Canceled,
    /// Money was taken but not the order's amount or currency: a person decides. Nothing is
    /// granted and the order is never reused for checkout.
    NeedsReview,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::Pending,
        OrderStatus::Failed,
        OrderStatus::Processing,
        OrderStatus::Paid,
        OrderStatus::PartiallyRefunded,
        OrderStatus::Refunded,
        OrderStatus::Canceled,
        OrderStatus::NeedsReview,
    ];

    /// The name the database and URLs use (`partially_refunded`).
    pub fn code(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Failed => "failed",
            OrderStatus::Processing => "processing",
            OrderStatus::Paid => "paid",
            OrderStatus::PartiallyRefunded => "partially_refunded",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Canceled => "canceled",
            OrderStatus::NeedsReview => "needs_review",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            OrderStatus::Pending => "Awaiting payment",
            OrderStatus::Failed => "Payment failed",
            OrderStatus::Processing => "Processing",
            OrderStatus::Paid => "Paid",
            OrderStatus::PartiallyRefunded => "Partially refunded",
            OrderStatus::Refunded => "Refunded",
            OrderStatus::Canceled => "Canceled",
            OrderStatus::NeedsReview => "Being checked",
        }
    }

    /// True once money has been received (refunds included).
    pub fn is_paid(self) -> bool {
        matches!(
            self,
            OrderStatus::Paid | OrderStatus::PartiallyRefunded | OrderStatus::Refunded
        )
    }

    /// Still waiting for the payment to settle one way or the other.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            OrderStatus::Pending | OrderStatus::Failed | OrderStatus::Processing
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "ssr")]
    fn generated_order_ids_parse_and_differ() {
        let (a, b) = (OrderId::generate(), OrderId::generate());
        assert_eq!(OrderId::parse(a.as_str()), Ok(a.clone()));
        assert_ne!(a, b);
    }

    #[test]
    fn order_ids_must_have_the_generated_shape() {
        assert!(OrderId::parse("ord_abcdefghijkmnpqrstuvwxyz23").is_ok());
        assert!(
            OrderId::parse("ord_abcdefghijkmnpqrstuvwxyz2").is_err(),
            "one short"
        );
        assert!(
            OrderId::parse("ord_abcdefghijkmnpqrstuvwxyz234").is_err(),
            "one long"
        );
        assert!(
            OrderId::parse("ord_abcdefghijkmnpqrstuvwxy01").is_err(),
            "0 and 1 are not in the alphabet"
        );
        assert!(OrderId::parse("ord_1").is_err());
        assert!(OrderId::parse("ord_ABCDEFGHIJKMNPQRSTUVWXYZ23").is_err());
        assert!(OrderId::parse("1").is_err());
    }

    #[test]
    fn emails_are_trimmed_and_checked() {
        assert_eq!(
            Email::parse("  a@example.com ").unwrap().as_str(),
            "a@example.com"
        );
        for bad in [
            "",
            "a",
            "a@b",
            "a@.com",
            "<script>@x.com",
            "a b@x.com",
            "@x.com",
            "a@x..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serde_builds_these_values_only_through_their_parsers() {
        assert!(serde_json::from_str::<Email>("\"not an email\"").is_err());
        assert!(serde_json::from_str::<ProductSlug>("\"../etc\"").is_err());
        assert!(serde_json::from_str::<OrderId>("\"ord_1\"").is_err());
        let email: Email = serde_json::from_str("\" a@example.com \"").unwrap();
        assert_eq!(email.as_str(), "a@example.com");
    }

    #[test]
    fn slugs_are_lowercase_words_with_dashes() {
        assert!(ProductSlug::parse("tokyo-night-presets").is_ok());
        assert!(ProductSlug::parse("../etc").is_err());
        assert!(ProductSlug::parse("A").is_err());
    }
}
