//! Runs the shop: reads settings (and `.env`), migrates, seeds, serves (`server` or `server
//! serve`). With another command, does that one task against the same database and Stripe
//! account and exits:
//!
//! - `server migrate`: brings the database up to this build's migrations (as every start
//!   does), for a deploy that migrates before it starts new servers;
//! - `server replay-events`: settles every stored webhook event that was never handled (the
//!   background job does this every five minutes and at each start);
//! - `server housekeeping`: that, then expires open orders, forgets data past retention, and
//!   sends again refunds shoppers asked for whose answer from Stripe never came.

use anyhow::Context;
use leptos::config::get_configuration;
use server::settings::Settings;
use server::startup::Application;

const USAGE: &str = "usage: server [serve | migrate | replay-events | housekeeping]";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // .env is for development; real environments set variables directly.
    let _ = dotenvy::dotenv();
    server::telemetry::init();
    let command = std::env::args().nth(1);
    if matches!(command.as_deref(), Some("-h" | "--help")) {
        println!("{USAGE}");
        return Ok(());
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("storefront cannot start: {e}");
            std::process::exit(2);
        }
    };
    let conf = get_configuration(Some("Leptos.toml")).context("Failed to read Leptos.toml")?;
    let addr = conf.leptos_options.site_addr;
    match command.as_deref() {
        Some("migrate") => {
            let known = server::startup::migrate(&settings).await?;
            println!("database migrated: {known} migrations");
            Ok(())
        }
        None | Some("serve") => {
            let app = Application::build(settings, conf.leptos_options, addr).await?;
            tracing::info!("storefront listening on http://{addr}");
            app.run().await
        }
        Some("replay-events") => {
            let state = server::startup::connect(&settings, conf.leptos_options, false).await?;
            let done = server::webhook::replay_unhandled(&state, std::time::Duration::ZERO).await?;
            println!(
                "settled {}, already settled {}, still failing {}",
                done.settled, done.already, done.failing
            );
            if done.failing > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
        Some("housekeeping") => {
            let state = server::startup::connect(&settings, conf.leptos_options, false).await?;
            server::jobs::run_chores(&server::jobs::Chores {
                state,
                order_ttl: settings.order_ttl,
                retention: settings.retention,
            })
            .await?;
            println!("housekeeping done");
            Ok(())
        }
        Some(other) => {
            eprintln!("unknown command {other:?}\n{USAGE}");
            std::process::exit(2);
        }
    }
}
