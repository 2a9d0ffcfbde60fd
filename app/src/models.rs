//! What crosses between the server and the browser: the shapes server functions return and
//! pages and islands render. Plain data over domain types; built on the server from rows.

use serde::{Deserialize, Serialize};

use crate::domain::{
    Currency, DisputeStatus, Money, OrderId, OrderStatus, ProductKind, group_thousands,
};

/// A published product as the catalog shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub slug: String,
    pub title: String,
    /// Markdown, as the seller wrote it (and the plain text for metadata).
    pub description: String,
    /// The description rendered and sanitised (see `catalog::render_markdown`).
    pub description_html: String,
    /// The description as one line of plain text, for link previews and search results.
    pub summary: String,
    /// The preview image's URL.
    pub preview: Option<String>,
    pub kind: ProductKind,
    /// `None` for a free product: added to a library without paying.
    pub price: Option<Money>,
    /// The currency its price is in (a free product's too).
    pub currency: Currency,
    /// The credits a pack adds.
    pub credits: Option<i64>,
    /// What it costs in credits, if it may also be unlocked with them.
    pub price_credits: Option<i64>,
    /// The file a download gives, once the seller has uploaded it.
    pub file: Option<FileFacts>,
    /// How long a membership lasts, as the seller states it.
    pub membership_days: Option<i32>,
}

/// Products shown on one page of the catalog.
pub const CATALOG_PAGE: usize = 24;

/// One page of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogPage {
    pub products: Vec<Product>,
    /// This page's number, from 1.
    pub page: u32,
    /// How many pages there are (1 for an empty catalog).
    pub pages: u32,
}

impl CatalogPage {
    /// Page `page` (from 1) of `all`; `None` past the last.
    pub fn of(all: &[Product], page: u32) -> Option<Self> {
        let pages = all.len().div_ceil(CATALOG_PAGE).max(1);
        let index = usize::try_from(page).ok()?.checked_sub(1)?;
        if index >= pages {
            return None;
        }
        Some(Self {
            products: all
                .iter()
                .skip(index * CATALOG_PAGE)
                .take(CATALOG_PAGE)
                .cloned()
                .collect(),
            page,
            pages: u32::try_from(pages).ok()?,
        })
    }

    /// A page's address: `/` for the first, `/?page=N` for the others.
    pub fn href(page: u32) -> String {
        if page <= 1 {
            "/".to_string()
        } else {
            format!("/?page={page}")
        }
    }
}

/// What a shopper is told about a product's file before buying it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileFacts {
    /// Its format as people name it: `PDF`, `ZIP`, `FLAC`.
    pub format: String,
    pub size_bytes: i64,
}

impl FileFacts {
    /// "PDF, 2.4 MB".
    pub fn label(&self) -> String {
        format!("{}, {}", self.format, file_size(self.size_bytes))
    }
}

/// A size in bytes as people read it: `812 bytes`, `14 KB`, `2.4 MB`, `1.1 GB` (powers of
/// 1,000, as operating systems now show them).
pub fn file_size(bytes: i64) -> String {
    const UNITS: [&str; 3] = ["KB", "MB", "GB"];
    if bytes < 1000 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

impl Product {
    /// The price as a shopper reads it: "$12.00", or "Free".
    pub fn price_label(&self) -> String {
        match self.price {
            Some(price) => price.to_string(),
            None => "Free".to_string(),
        }
    }

    /// What buying it gives, in a few words: "PDF, 2.4 MB", "1,000 credits", "30-day
    /// membership, one payment".
    pub fn gives(&self) -> Option<String> {
        match self.kind {
            ProductKind::Download => self.file.as_ref().map(FileFacts::label),
            ProductKind::Credits => self
                .credits
                .map(|n| format!("{} credits", group_thousands(n))),
            ProductKind::Membership => Some(match self.membership_days {
                Some(1) => "1-day membership, one payment, no renewal".to_string(),
                Some(days) => format!("{days}-day membership, one payment, no renewal"),
                None => "Membership, one payment, no renewal".to_string(),
            }),
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

/// What the browser needs to pay an order: nothing secret but the client secret of its own
/// PaymentIntent, and the amount the order charges. (The publishable key comes with the page.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckoutSession {
    pub order_id: OrderId,
    pub client_secret: String,
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
    /// It gave a file that may be downloaded now (`/orders/<id>/download`).
    pub downloadable: bool,
}

/// The signed-in shopper, as pages show them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub email: String,
    pub verified: bool,
    /// Their credit balance.
    pub credits: i64,
    /// Whether they may use the admin (the header links to it).
    pub is_admin: bool,
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

/// The admin's home: sales, and what needs a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShopOverview {
    /// One per currency sold in during the last 30 days.
    pub sales: Vec<Sales>,
    /// Stored events not handled yet (their order not visible yet, unreadable, failing).
    pub unhandled_events: i64,
    /// Payments whose amount did not match their order.
    pub orders_to_review: i64,
    /// Refunds asked for whose answer from Stripe has not come yet.
    pub refunds_pending: i64,
}

/// Sales in one currency by UTC day of payment, less what has since been refunded, in minor
/// units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sales {
    pub currency: Currency,
    pub today: i64,
    pub last_7_days: i64,
    pub last_30_days: i64,
    /// The last 30 days, oldest first, today last.
    pub daily: Vec<i64>,
    /// The first of those days, as `YYYY-MM-DD`.
    pub first_day: String,
}

/// What the admin's order list is narrowed to; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    /// Made on or after this day (UTC), `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Made on or before this day (UTC), `YYYY-MM-DD`.
    pub to: Option<String>,
    /// Part of the buyer's email.
    pub email: Option<String>,
    /// A product's slug.
    pub product: Option<String>,
    /// From 1.
    pub page: u32,
}

/// One page of orders, as the admin's list shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderList {
    pub orders: Vec<AdminOrderLine>,
    pub more: bool,
    /// The products, for the filter's choice: slug and title.
    pub products: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminOrderLine {
    pub id: OrderId,
    /// When it was made, `YYYY-MM-DD HH:MM` UTC.
    pub created: String,
    pub email: Option<String>,
    pub product_title: String,
    pub amount: Cost,
    pub status: OrderStatus,
    pub refunded: Option<Money>,
}

/// One order with everything the shop knows of it, for the admin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRecord {
    pub line: AdminOrderLine,
    pub product_slug: String,
    pub kind: ProductKind,
    /// The account it belongs to, if any.
    pub account: Option<String>,
    pub payment_intent_id: Option<String>,
    pub paid_at: Option<String>,
    pub failure_message: Option<String>,
    pub dispute: Option<DisputeStatus>,
    /// What it granted: since when, and whether that was revoked or is suspended.
    pub grants: Vec<AdminGrant>,
    pub refunds: Vec<AdminRefund>,
    pub events: Vec<AdminEvent>,
    /// What may still be refunded, when a refund may be made now.
    pub refundable: Option<Money>,
    /// Why not, when it may not.
    pub not_refundable: Option<String>,
    /// A fresh key for the refund form: posting the same form twice refunds once.
    pub form_key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminGrant {
    pub since: String,
    pub revoked: Option<String>,
    pub suspended: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminRefund {
    pub amount: Money,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    pub requested: String,
    /// Who asked: an admin's email, or "the buyer".
    pub by: String,
    pub error: Option<String>,
}

/// One event in the webhook inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminEvent {
    pub id: String,
    pub type_: String,
    /// When it reached the shop, `YYYY-MM-DD HH:MM:SS` UTC.
    pub received: String,
    /// Handled (when), or not yet.
    pub handled: Option<String>,
    pub attempts: i32,
    pub error: Option<String>,
    /// Delivered to the webhook, or found by reconciliation in Stripe's events list.
    pub from_list: bool,
    /// Whether "retry" can act on it: not handled, and its payload still kept.
    pub retryable: bool,
}

/// One page of the inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventList {
    pub events: Vec<AdminEvent>,
    pub more: bool,
}

/// A product in the admin's list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminProductLine {
    pub slug: String,
    pub title: String,
    pub kind: ProductKind,
    /// `$12.50`, or `Free`.
    pub price: String,
    pub published: bool,
    /// Where its Stripe copy stands, in words.
    pub stripe: String,
}

/// A product as the admin's edit form shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditableProduct {
    pub id: i64,
    pub slug: String,
    pub title: String,
    /// Markdown, as the seller wrote it.
    pub description: String,
    pub kind: ProductKind,
    /// The price as the form shows it for editing (`12.50`, `1500`).
    pub price: String,
    pub currency: Currency,
    pub credits: Option<i64>,
    pub price_credits: Option<i64>,
    pub membership_days: Option<i32>,
    pub published: bool,
    /// Whether it has orders: what it is and its currency are then fixed.
    pub sold: bool,
    /// The version the form edits: a save over a newer one is refused.
    pub version: i32,
    /// The preview image's URL.
    pub preview: Option<String>,
    /// The file a buyer downloads: its name, type and size.
    pub file: Option<String>,
    /// Where its Stripe copy stands, in words.
    pub stripe: String,
    pub stripe_product_id: Option<String>,
}

/// Where a product stands in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductState {
    Published,
    Unpublished,
    Archived,
}

#[cfg(test)]
mod size_tests {
    use super::{CATALOG_PAGE, CatalogPage, file_size};

    #[test]
    fn the_catalog_pages_hold_every_product_once_and_nothing_past_the_last() {
        let product = |n: usize| super::Product {
            slug: format!("p-{n}"),
            title: format!("P {n}"),
            description: String::new(),
            description_html: String::new(),
            summary: String::new(),
            preview: None,
            kind: crate::domain::ProductKind::Download,
            price: None,
            currency: crate::domain::Currency::Usd,
            credits: None,
            price_credits: None,
            file: None,
            membership_days: None,
        };
        let all: Vec<_> = (0..CATALOG_PAGE * 2 + 5).map(product).collect();
        let pages: Vec<_> = (1..=3).map(|p| CatalogPage::of(&all, p).unwrap()).collect();
        assert!(pages.iter().all(|p| p.pages == 3));
        let seen: Vec<_> = pages
            .iter()
            .flat_map(|p| p.products.iter().map(|p| p.slug.clone()))
            .collect();
        assert_eq!(seen, all.iter().map(|p| p.slug.clone()).collect::<Vec<_>>());
        assert_eq!(pages[2].products.len(), 5);
        assert!(CatalogPage::of(&all, 4).is_none());
        assert!(CatalogPage::of(&all, 0).is_none());
        let empty = CatalogPage::of(&[], 1).unwrap();
        assert_eq!((empty.products.len(), empty.pages), (0, 1));
        assert!(CatalogPage::of(&[], 2).is_none());
        assert_eq!(CatalogPage::href(1), "/");
        assert_eq!(CatalogPage::href(3), "/?page=3");
    }

    #[test]
    fn sizes_read_in_the_unit_people_use() {
        assert_eq!(file_size(812), "812 bytes");
        assert_eq!(file_size(14_200), "14 KB");
        assert_eq!(file_size(2_400_000), "2.4 MB");
        assert_eq!(file_size(999_999), "1.0 MB");
        assert_eq!(file_size(1_100_000_000), "1.1 GB");
    }
}

/// The shop's policy pages. Their text is the seller's (Markdown files in `CONTENT_DIR`), with
/// a default built in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    Terms,
    RefundPolicy,
    Privacy,
}

impl Policy {
    pub const ALL: [Policy; 3] = [Policy::Terms, Policy::RefundPolicy, Policy::Privacy];

    /// Its page's path, and its file's name without `.md`.
    pub fn slug(self) -> &'static str {
        match self {
            Policy::Terms => "terms",
            Policy::RefundPolicy => "refund-policy",
            Policy::Privacy => "privacy",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Policy::Terms => "Terms of sale",
            Policy::RefundPolicy => "Refund policy",
            Policy::Privacy => "Privacy",
        }
    }

    /// Its page's meta description.
    pub fn description(self) -> &'static str {
        match self {
            Policy::Terms => "What you buy here, how you pay, and how you may use it.",
            Policy::RefundPolicy => "When and how a purchase is refunded.",
            Policy::Privacy => "What the shop keeps about you, and why.",
        }
    }
}
