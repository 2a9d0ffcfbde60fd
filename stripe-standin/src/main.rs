//! `stripe-standin`: runs the local Stripe stand-in on a port (0 picks a free one).

use clap::Parser;
use stripe_standin::Options;
use stripe_standin::store::Config;

#[derive(Parser, Debug)]
#[command(about = "A local stand-in for the Stripe API, its webhooks and Stripe.js")]
struct Cli {
    #[arg(long, env = "STANDIN_HOST", default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// 0 takes a free port; the one taken is printed and written to --port-file.
    #[arg(long, env = "STANDIN_PORT", default_value_t = 12111)]
    port: u16,
    #[arg(long)]
    port_file: Option<std::path::PathBuf>,
    /// A webhook endpoint that receives every event (repeatable).
    #[arg(
        long = "webhook-url",
        env = "STANDIN_WEBHOOK_URL",
        value_delimiter = ','
    )]
    webhook_urls: Vec<String>,
    /// The signing secret(s) of those endpoints (repeatable, for a secret roll).
    #[arg(
        long = "webhook-secret",
        env = "STANDIN_WEBHOOK_SECRET",
        value_delimiter = ','
    )]
    webhook_secrets: Vec<String>,
    /// The wait before a failed delivery's first retry; it doubles each time.
    #[arg(long, default_value_t = 1_000)]
    retry_base_ms: u64,
    #[arg(long, default_value_t = 8)]
    max_attempts: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "stripe_standin=info".into()),
        )
        .init();
    let cli = Cli::parse();
    if !cli.webhook_urls.is_empty() && cli.webhook_secrets.is_empty() {
        anyhow::bail!("--webhook-url needs --webhook-secret (the whsec_… the shop verifies with)");
    }
    let listener = tokio::net::TcpListener::bind((cli.host, cli.port)).await?;
    let addr = listener.local_addr()?;
    println!("stripe-standin listening on http://{addr}");
    if let Some(path) = &cli.port_file {
        // Written whole and then renamed, so a reader never sees half a number.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, addr.port().to_string())?;
        std::fs::rename(&tmp, path)?;
    }
    let options = Options {
        webhook_urls: cli.webhook_urls,
        webhook_secrets: cli.webhook_secrets,
        config: Config {
            retry_base_ms: cli.retry_base_ms,
            max_attempts: cli.max_attempts,
            ..Config::default()
        },
    };
    stripe_standin::serve(listener, options).await
}
