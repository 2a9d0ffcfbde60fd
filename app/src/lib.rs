//! storefront's application: the shop's domain, its server functions and logic, and the islands
//! the browser hydrates, shared by the server (feature `ssr`) and the wasm bundle (feature
//! `hydrate`). The pages around the islands are in the `pages` crate, which only the server
//! builds, so an edit of a page rebuilds neither this crate nor the wasm bundle.
//!
//! Modules import only from modules below them in this list, never back up:
//!
//! | module | owns | |
//! |---|---|---|
//! | `islands` | the checkout form and a live order status, hydrated in the browser | |
//! | `stripe_js` | Stripe.js bindings for the checkout island | hydrate |
//! | `api` | the `#[server]` functions, the browser's only way in | |
//! | `state` | `AppState`, handed to server functions | ssr |
//! | `policies` | the terms, refund policy and privacy pages' text | ssr |
//! | `reconcile` | settling from Stripe what webhooks missed | ssr |
//! | `admin` | what the admin reads: sales, orders, the inbox | ssr |
//! | `refunds` | refunds a shopper or an admin asks for, within the refund window | ssr |
//! | `library` | free products added, products unlocked with credits | ssr |
//! | `accounts` | sign-up, sign-in, verification and reset links, guest orders claimed | ssr |
//! | `credits` | the credit ledger: packs added, spends, refunds taken back | ssr |
//! | `files` | bought files in storage, and their signed download links | ssr |
//! | `housekeeping` | expiring open orders, forgetting data past retention | ssr |
//! | `limits` | rate limits on checkout starts and Stripe reads | ssr |
//! | `checkout`, `orders` | opening checkout; an order as its page shows it | ssr |
//! | `inbox` | Stripe events stored, then settled once | ssr |
//! | `outbox` | waking the mail job when a transaction wrote mail | ssr |
//! | `fulfillment` | settling orders from what Stripe reports | ssr |
//! | `payment_intents` | every call to Stripe's PaymentIntents API | ssr |
//! | `catalog` | published products, and their in-memory copy | ssr |
//! | `advisory` | Postgres advisory locks for background work | ssr |
//! | `models` | what server functions return | |
//! | `error` | `ShopError`: what the shopper is told, and its status | |
//! | `domain` | money, ids, email, slugs, kinds, statuses | |

#[cfg(feature = "ssr")]
pub mod accounts;
#[cfg(feature = "ssr")]
pub mod admin;
#[cfg(feature = "ssr")]
pub mod advisory;
pub mod api;
#[cfg(feature = "ssr")]
pub mod catalog;
#[cfg(feature = "ssr")]
pub mod checkout;
#[cfg(feature = "ssr")]
pub mod credits;
pub mod domain;
pub mod error;
#[cfg(feature = "ssr")]
pub mod files;
#[cfg(feature = "ssr")]
pub mod fulfillment;
#[cfg(feature = "ssr")]
pub mod housekeeping;
#[cfg(feature = "ssr")]
pub mod inbox;
pub mod islands;
#[cfg(feature = "ssr")]
pub mod library;
#[cfg(feature = "ssr")]
pub mod limits;
pub mod models;
#[cfg(feature = "ssr")]
pub mod orders;
#[cfg(feature = "ssr")]
pub mod outbox;
#[cfg(feature = "ssr")]
pub mod payment_intents;
#[cfg(feature = "ssr")]
pub mod policies;
#[cfg(feature = "ssr")]
pub mod reconcile;
#[cfg(feature = "ssr")]
pub mod refunds;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "hydrate")]
mod stripe_js;

/// Starts the browser side; the islands on the page then hydrate themselves.
#[cfg(feature = "hydrate")]
pub fn hydrate() {
    leptos::mount::hydrate_islands();
}
