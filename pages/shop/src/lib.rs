//! The shop's pages: the catalog, a product, an order and the seller's policies.
//!
//! Each page is handed to the routes (the `pages` crate) as an `AnyView`, so no crate above
//! names these views' types, and an edit here rebuilds only this crate before the server is
//! relinked. (rustc keeps a crate's drop glue in one codegen unit, rebuilt whole when a view
//! changes: the smaller the crate, the quicker an edit shows.)

// Erasing a page's view needs its type's layout, deeper than rustc's default limit of 128.
#![recursion_limit = "256"]

mod home;
mod order;
mod policy;
mod product;

use leptos::prelude::*;

use app::models::Policy;

/// `/`: the catalog.
pub fn catalog() -> AnyView {
    view! { <home::HomePage/> }.into_any()
}

/// `/products/:slug`
pub fn product() -> AnyView {
    view! { <product::ProductPage/> }.into_any()
}

/// `/orders/:id`
pub fn order() -> AnyView {
    view! { <order::OrderPage/> }.into_any()
}

/// `/terms`, `/refund-policy` and `/privacy`.
pub fn policy(policy: Policy) -> AnyView {
    view! { <policy::PolicyPage policy/> }.into_any()
}
