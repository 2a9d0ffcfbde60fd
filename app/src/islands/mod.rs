//! The only parts of a page the browser hydrates. The server renders them inside the pages
//! (the `pages` crate); the wasm bundle holds them and nothing else of the views.

mod checkout_form;
mod live_order;

pub use checkout_form::{CheckoutForm, PRICE_LINE_ID};
pub use live_order::LiveOrder;
