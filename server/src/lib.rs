//! The shop's server: settings, telemetry, start-up, the Stripe webhook, background jobs, mail,
//! the admin's uploads and the demo seed.

pub mod assets;
pub mod cross_origin;
pub mod deadline;
pub mod downloads;
pub mod jobs;
pub mod mail;
pub mod page_cache;
pub mod plain_page;
pub mod seed;
pub mod seo;
pub mod settings;
pub mod startup;
pub mod telemetry;
pub mod uploads;
pub mod webhook;
