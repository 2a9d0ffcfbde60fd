//! Development only (`scripts/dev.sh --watch`): every crate below the pages, built once as one
//! shared library. The executable built with `server-bin`'s `dylib` feature loads it, so the
//! link after a page edit reads the pages and the executable instead of everything.

pub use anyhow;
pub use app;
pub use axum;
pub use clap;
pub use dotenvy;
pub use leptos;
pub use leptos_axum;
pub use leptos_meta;
pub use leptos_router;
pub use serde;
pub use server;
pub use tokio;
pub use tracing;
