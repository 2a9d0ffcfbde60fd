//! What crosses between the server and the browser: the shapes server functions return and
//! pages and islands render. Plain data over domain types; built on the server from rows.

use serde::{Deserialize, Serialize};

use crate::domain::{DisputeStatus, Money, OrderId, OrderStatus, ProductKind};

/// A published product as the catalog shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub slug: String,
    pub title: String,
    pub description: String,
    pub kind: ProductKind,
    pub price: Money,
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
    pub amount: Money,
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
}

/// One order in a shopper's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    pub id: OrderId,
    pub product_title: String,
    pub amount: Money,
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
