//! What crosses between the server and the browser: the shapes server functions return and
//! pages and islands render. Plain data over domain types; built on the server from rows.

use serde::{Deserialize, Serialize};

use crate::domain::{DisputeStatus, Money, OrderId, OrderStatus, ProductKind, group_thousands};

/// A published product as the catalog shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub slug: String,
    pub title: String,
    pub description: String,
    pub kind: ProductKind,
    /// `None` for a free product: added to a library without paying.
    pub price: Option<Money>,
    /// The credits a pack adds.
    pub credits: Option<i64>,
    /// What it costs in credits, if it may also be unlocked with them.
    pub price_credits: Option<i64>,
}

impl Product {
    /// The price as a shopper reads it: "$12.00", or "Free".
    pub fn price_label(&self) -> String {
        match self.price {
            Some(price) => price.to_string(),
            None => "Free".to_string(),
        }
    }
}

/// What an order cost: money through Stripe, credits from the shopper's balance, or nothing
/// (a free product).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Cost {
    Money(Money),
    Credits(i64),
    Free,
}

impl std::fmt::Display for Cost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cost::Money(money) => write!(f, "{money}"),
            Cost::Credits(n) => write!(f, "{} credits", group_thousands(*n)),
            Cost::Free => f.write_str("Free"),
        }
    }
}

/// What the browser needs to take a payment: nothing secret but the client secret of its own
/// PaymentIntent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckoutSession {
    pub order_id: OrderId,
    pub client_secret: String,
    pub publishable_key: String,
    pub amount: Money,
}

/// An order as its page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderView {
    pub id: OrderId,
    pub product_title: String,
    pub product_slug: String,
    pub amount: Cost,
    pub status: OrderStatus,
    pub failure_message: Option<String>,
    pub refunded: Option<Money>,
    pub dispute: Option<DisputeStatus>,
}

/// The signed-in shopper, as pages show them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub email: String,
    pub verified: bool,
    /// Their credit balance.
    pub credits: i64,
}

/// One order in a shopper's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    pub id: OrderId,
    pub product_title: String,
    pub amount: Cost,
    pub status: OrderStatus,
    pub refunded: Option<Money>,
    /// When it was made, as `YYYY-MM-DD` (UTC).
    pub date: String,
}

/// One thing a shopper owns, as their library shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LibraryItem {
    pub product_title: String,
    pub product_slug: String,
    pub kind: ProductKind,
    /// The order that gave it.
    pub order_id: OrderId,
    /// When it was granted, as `YYYY-MM-DD` (UTC).
    pub since: String,
    /// Suspended while the payment is disputed.
    pub under_dispute: bool,
    /// A file the shopper can download now.
    pub downloadable: bool,
}

/// An order as its receipt shows it to its owner: what was bought, when, for how much, what
/// was refunded, and whether a refund may be asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub id: OrderId,
    pub product_title: String,
    pub product_slug: String,
    pub kind: ProductKind,
    pub amount: Cost,
    pub status: OrderStatus,
    pub refunded: Option<Money>,
    /// The receipt email.
    pub email: Option<String>,
    /// When it was paid (or added), as `YYYY-MM-DD HH:MM UTC`.
    pub paid_at: Option<String>,
    /// The credits a pack added.
    pub pack_credits: Option<i64>,
    pub dispute: Option<DisputeStatus>,
    pub refund: RefundOffer,
}

/// Whether the owner of an order may ask for a refund now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RefundOffer {
    /// `amount` goes back to the card. For a credit pack, `credits_back` of its credits leave
    /// the balance, and `credits_used` were already spent (and stay spent: their part of the
    /// price is not refunded).
    Available {
        amount: Money,
        credits_back: Option<i64>,
        credits_used: Option<i64>,
        /// The last day a refund may be asked for, as `YYYY-MM-DD`.
        until: String,
    },
    /// A refund was asked for and is on its way.
    InProgress,
    /// Not refundable now, and why, in words.
    Unavailable(String),
    /// Nothing to refund: not paid with money, or not paid yet.
    None,
}
