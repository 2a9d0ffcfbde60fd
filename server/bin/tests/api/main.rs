//! The server's integration tests, one binary: each module runs the real shop (its own
//! database, its own Stripe stand-in, a free port) and checks what a shopper, an attacker or
//! Stripe would see. `TEST_LOG=1` prints the shop's log.

mod accounts;
mod admin;
mod assets;
mod availability;
mod bad_input;
mod batches;
mod catalog;
mod catalog_admin;
mod credits;
mod disputes;
mod downloads;
mod edges;
mod free_products;
mod helpers;
mod housekeeping;
mod limits;
mod mail;
mod payment_path;
mod reconcile;
mod refunds;
mod security;
mod shop_pages;
mod storage;
