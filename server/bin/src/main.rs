//! Runs the shop: reads settings (and `.env`), migrates, seeds, serves (`server` or `server
//! serve`). With another command, does that one task against the same database and Stripe
//! account and exits (see `server --help`).

use std::io::{BufRead, IsTerminal};

use anyhow::Context;
use clap::{Parser, Subcommand};
use leptos::config::get_configuration;
use server::settings::Settings;
use server::startup::{Application, Listen, Pages};

// Development only: the dependencies come from one shared library (see server-dylib). A Rust
// shared library allocates with the standard library's allocator, so the executable keeps it too.
#[cfg(feature = "dylib")]
use server_dylib as _;

#[cfg(not(feature = "dylib"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "server",
    about = "storefront: the shop's server and its operator commands"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the shop (the default).
    Serve,
    /// Bring the database up to this build's migrations (every start does this too), for a
    /// deploy that migrates before it starts new servers.
    Migrate,
    /// Settle what Stripe knows and the shop does not: stored events never handled, open
    /// orders (asked of Stripe one by one), and events whose webhook never came (read from
    /// Stripe's events list). Prints what it could not settle, and then exits 1. The
    /// background job does the same every five minutes.
    Reconcile,
    /// The inbox of Stripe events.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Staff accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Reconcile, then expire open orders, forget data past retention, and send again the
    /// refunds shoppers asked for whose answer from Stripe never came.
    Housekeeping,
    /// The same as `events replay` (its earlier name).
    #[command(hide = true)]
    ReplayEvents,
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Settle every stored event that was never handled, whatever its age.
    Replay,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Make EMAIL an admin: a new account (its email counted as verified), or an existing one
    /// promoted. On a terminal it asks for a password; leave it empty (or run it off a
    /// terminal) and a new account gets a one-time link to choose its password instead.
    CreateUser {
        email: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

fn main() -> anyhow::Result<()> {
    // Both of these change the environment, so they come before the runtime starts its threads.
    // .env is for development; real environments set variables directly.
    let _ = dotenvy::dotenv();
    // A listening socket handed down by whoever started the server (LISTEN_FDS), which `serve`
    // uses instead of binding the configured address.
    let inherited = listenfd::ListenFd::from_env()
        .take_tcp_listener(0)
        .context("LISTEN_FDS hands down a socket that is not a TCP listener")?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("Failed to start the async runtime")?
        .block_on(run(inherited))
}

async fn run(inherited: Option<std::net::TcpListener>) -> anyhow::Result<()> {
    server::telemetry::init();
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("storefront cannot start: {e}");
            std::process::exit(2);
        }
    };
    let conf = get_configuration(Some("Leptos.toml")).context("Failed to read Leptos.toml")?;
    let addr = conf.leptos_options.site_addr;
    let connect = || server::startup::connect(&settings, conf.leptos_options.clone(), false);
    match cli.command {
        None | Some(Command::Serve) => {
            let pages = Pages {
                app: pages::app,
                shell: pages::shell,
            };
            let listen = match inherited {
                Some(socket) => Listen::Inherited(socket),
                None => Listen::Bind(addr),
            };
            // Listened for before the background work starts, so that no stop finds it
            // without a handler.
            let stop = server::startup::stop_signal();
            let app = Application::build(settings, conf.leptos_options, listen, pages).await?;
            tracing::info!("storefront listening on http://{}", app.address());
            app.run_until(stop).await
        }
        Some(Command::Migrate) => {
            let known = server::startup::migrate(&settings).await?;
            println!("database migrated: {known} migrations");
            Ok(())
        }
        Some(Command::Reconcile) => {
            let state = connect().await?;
            let done = app::reconcile::run(&state, std::time::Duration::ZERO).await?;
            println!(
                "replayed {} stored events; asked Stripe about {} open orders, settled {}; \
                 read {} events from Stripe's list, {} of them new",
                done.replayed.settled,
                done.orders_checked,
                done.orders_settled,
                done.events_listed,
                done.events_backfilled
            );
            report_unsettled(&done.unsettled)
        }
        Some(Command::Events {
            command: EventsCommand::Replay,
        })
        | Some(Command::ReplayEvents) => {
            let state = connect().await?;
            let done = app::inbox::replay_unhandled(&state, std::time::Duration::ZERO).await?;
            println!(
                "settled {}, already settled {}, still failing {}",
                done.settled, done.already, done.failing
            );
            if done.failing > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
        Some(Command::Housekeeping) => {
            let state = connect().await?;
            server::jobs::run_chores(&server::jobs::Chores {
                state,
                order_ttl: settings.order_ttl,
                retention: settings.retention,
            })
            .await?;
            println!("housekeeping done");
            Ok(())
        }
        Some(Command::Admin {
            command:
                AdminCommand::CreateUser {
                    email,
                    password_stdin,
                },
        }) => create_admin(&settings, connect().await?, &email, password_stdin).await,
    }
}

fn report_unsettled(unsettled: &[app::reconcile::Unsettled]) -> anyhow::Result<()> {
    if unsettled.is_empty() {
        println!("nothing left unsettled");
        return Ok(());
    }
    println!("could not settle {}:", unsettled.len());
    for u in unsettled {
        println!("  {}: {}", u.what, u.why);
    }
    std::process::exit(1);
}

async fn create_admin(
    settings: &Settings,
    state: app::state::AppState,
    email: &str,
    password_stdin: bool,
) -> anyhow::Result<()> {
    use app::accounts::{AdminMade, NewPassword, make_admin};
    let email = match app::domain::Email::parse(email) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{email:?} is not an email address: {}", e.0);
            std::process::exit(2);
        }
    };
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Some(line.trim_end_matches(['\r', '\n']).to_string())
    } else if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(
            "Password (empty for a one-time link to choose it instead): ",
        )?;
        if first.is_empty() {
            None
        } else {
            let again = rpassword::prompt_password("Again: ")?;
            if again != first {
                eprintln!("The two passwords differ; nothing changed.");
                std::process::exit(2);
            }
            Some(first)
        }
    } else {
        None
    };
    let password = match password.map(|p| NewPassword::parse(&p)).transpose() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{}; nothing changed.", e.0);
            std::process::exit(2);
        }
    };
    match make_admin(&state.pool, &email, password).await? {
        AdminMade::Created => println!("{email} is a new admin; sign in at /sign-in"),
        AdminMade::Promoted => println!("{email} is now an admin"),
        AdminMade::CreatedWithLink(token) => {
            let base = settings
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", state.leptos_options.site_addr));
            println!(
                "{email} is a new admin. Choose its password within an hour, once, at:\n{}/reset-password?token={token}",
                base.trim_end_matches('/')
            );
        }
    }
    Ok(())
}
