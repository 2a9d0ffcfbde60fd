//! Runs the shop: reads settings (and `.env`), migrates, seeds, serves.

use anyhow::Context;
use leptos::config::get_configuration;
use server::settings::Settings;
use server::startup::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // .env is for development; real environments set variables directly.
    let _ = dotenvy::dotenv();
    server::telemetry::init();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("storefront cannot start: {e}");
            std::process::exit(2);
        }
    };
    let conf = get_configuration(Some("Leptos.toml")).context("Failed to read Leptos.toml")?;
    let addr = conf.leptos_options.site_addr;
    let app = Application::build(settings, conf.leptos_options, addr).await?;
    tracing::info!("storefront listening on http://{addr}");
    app.run().await
}
