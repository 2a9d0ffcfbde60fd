//! Fault and load runs against a real shop: the release `server` binary, a database of its own
//! and an in-process Stripe stand-in. Each run opens real orders, pays their PaymentIntents at
//! the stand-in, refunds a tenth of them in full, then delivers the resulting signed events
//! itself, the way Stripe would: several copies of each, shuffled, many at a time, retrying
//! every delivery that does not get a 2xx. The refunds' `charge.refunded` events are delivered
//! first, before any `payment_intent.succeeded`, as when a seller refunds while the payment's
//! own event is still delayed. It prints what it measured and then checks the database: every
//! order paid exactly once with exactly one grant, every refunded order refunded with none
//! live, nothing half done.
//!
//! Runs: `load` (plain), `pg-restart` (Postgres stopped and started mid-run; on a cluster of its
//! own, so nothing else on the machine is disturbed), `sigkill` (the server killed mid-run,
//! checked while it is down, then restarted), `all`. See `bench/chaos.sh`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::{Parser, Subcommand};
use futures::StreamExt;
use rand::seq::SliceRandom;
use sqlx::PgPool;
use tokio::process::{Child, Command};

mod check;
mod soak;
mod two_servers;

const SECRET_KEY: &str = "sk_test_chaos";
const WEBHOOK_SECRET: &str = "whsec_chaos";
const SLUGS: [&str; 4] = [
    "field-recordings-vol-1",
    "tokyo-night-presets",
    "api-credits-1000",
    "studio-membership",
];

#[derive(Parser)]
#[command(about = "Fault and load runs against a real storefront server")]
struct Cli {
    #[command(subcommand)]
    run: Run,
    /// Distinct events (one paid order each).
    #[arg(long, default_value_t = 1000, global = true)]
    events: usize,
    /// Deliveries of each event.
    #[arg(long, default_value_t = 3, global = true)]
    copies: usize,
    /// Deliveries in flight at once (with `--rate`, the most in flight).
    #[arg(long, default_value_t = 32, global = true)]
    concurrency: usize,
    /// For `load`: send the payments at this many a second, on a fixed schedule, instead of
    /// keeping `--concurrency` in flight. Latency is then counted from each delivery's place in
    /// the schedule, so a server that falls behind shows it in its latency rather than by
    /// slowing the sender.
    #[arg(long, global = true)]
    rate: Option<f64>,
    /// For `load`: SQL run on the shop's database once it is migrated, before the orders are
    /// made (to measure a schema change without building a server for it).
    #[arg(long, global = true)]
    setup_sql: Option<PathBuf>,
    /// For `load`: a setting of its Postgres cluster, `name=value` (repeatable), e.g.
    /// `log_min_duration_statement=10` to see what a tail waited on.
    #[arg(long = "pg-setting", global = true)]
    pg_settings: Vec<String>,
    /// For `load`: where to keep its Postgres cluster's log once the run is over.
    #[arg(long, global = true)]
    pg_log: Option<PathBuf>,
    /// The server binary to run.
    #[arg(long, default_value = "target/release/server", global = true)]
    server: PathBuf,
    /// Minutes of the soak.
    #[arg(long, default_value_t = 10, global = true)]
    minutes: u64,
    /// Page views a second in the soak.
    #[arg(long, default_value_t = 100, global = true)]
    pages: u64,
    /// Checkout starts a second in the soak.
    #[arg(long, default_value_t = 10, global = true)]
    checkouts: u64,
    /// A Postgres URL to a maintenance database, for `load` and `sigkill`.
    #[arg(
        long,
        default_value = "postgres://postgres@127.0.0.1:5432/postgres",
        global = true
    )]
    admin_url: String,
}

#[derive(Subcommand, Clone, Copy, PartialEq)]
enum Run {
    /// Every delivery on a healthy server and database.
    Load,
    /// Postgres stopped for eight seconds once a third of the deliveries are done.
    PgRestart,
    /// The server killed with SIGKILL once a third of the deliveries are done, then restarted.
    Sigkill,
    /// Two servers on one database, each delivery to either; one SIGKILLed mid-run (see
    /// `two_servers`).
    TwoServers,
    /// Mixed traffic at a steady rate for `--minutes`, with the stand-in delivering the
    /// webhooks (see `soak`). Not part of `all`.
    Soak,
    /// All four, one after another.
    All,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    ensure!(
        cli.server.exists(),
        "{} not found: build it with `cargo build --release -p server-bin`",
        cli.server.display()
    );
    let pace = match cli.rate {
        Some(rate) => format!("{rate:.0} a second, at most {} in flight", cli.concurrency),
        None => format!("{} in flight", cli.concurrency),
    };
    println!(
        "machine: {} cores; {} events x {} copies, {pace}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cli.events,
        cli.copies,
    );
    let runs = match cli.run {
        Run::All => vec![Run::Load, Run::PgRestart, Run::Sigkill, Run::TwoServers],
        one => vec![one],
    };
    let mut failed = false;
    for run in runs {
        let outcome = match run {
            Run::TwoServers => two_servers::run(&cli).await,
            Run::Soak => soak::run(&cli).await,
            run => scenario(&cli, run).await,
        };
        if let Err(e) = outcome {
            println!("FAILED: {e:#}");
            failed = true;
        }
    }
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

async fn scenario(cli: &Cli, run: Run) -> anyhow::Result<()> {
    let name = match run {
        Run::Load => "load",
        Run::PgRestart => "pg-restart",
        Run::Sigkill => "sigkill",
        Run::TwoServers | Run::Soak | Run::All => unreachable!(),
    };
    println!("\n=== {name}");
    // The load run and the Postgres restart each have a cluster of their own: the restart
    // must not disturb anything else on the machine, and the load run counts the statements
    // the shop sends (pg_stat_statements, which a cluster loads at start) and measures the
    // machine's own insert ceiling on the same cluster.
    let cluster = match run {
        Run::PgRestart => Some(Cluster::start(&[]).await?),
        Run::Load => {
            let mut settings = vec!["shared_preload_libraries=pg_stat_statements"];
            settings.extend(cli.pg_settings.iter().map(String::as_str));
            Some(Cluster::start(&settings).await?)
        }
        _ => None,
    };
    let admin_url = match &cluster {
        Some(c) => c.admin_url(),
        None => cli.admin_url.clone(),
    };
    let db_url = fresh_database(&admin_url, name).await?;
    if let Some(c) = cluster.as_ref().filter(|_| run == Run::Load) {
        // Before the shop's orders are made, as the database made just before did: the
        // checkpoint ends here, not as the deliveries begin.
        c.ready_wal().await?;
    }
    let standin = stripe_standin::spawn(Default::default()).await?;
    let mut shop = Shop::start(&cli.server, &db_url, &standin.base_url, name).await?;
    let pool = PgPool::connect(&db_url).await?;
    if let Some(file) = cli.setup_sql.as_ref().filter(|_| run == Run::Load) {
        let sql =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        sqlx::raw_sql(&sql).execute(&pool).await?;
        println!("ran {} on the shop's database", file.display());
    }

    let started = Instant::now();
    let Prepared {
        succeeded: events,
        refunded,
        refunded_intents,
    } = paid_events(&shop.base, &standin.base_url, cli.events).await?;
    println!(
        "prepared {} paid orders ({} of them refunded in full) and their events in {:.1} s",
        events.len(),
        refunded.len(),
        started.elapsed().as_secs_f64()
    );
    // The refunds reach the shop before their payments do.
    let refunds = Deliveries::new(&refunded, cli.copies)
        .run(std::slice::from_ref(&shop.base), cli.concurrency)
        .await?;
    print!("refunds first: ");
    refunds.print(refunded.len());

    let counting = if run == Run::Load {
        Some(StatementCount::start(&pool).await?)
    } else {
        None
    };
    let deliveries = Deliveries::new(&events, cli.copies);
    let total = deliveries.total;
    let progress = deliveries.done.clone();
    let base = shop.base.clone();
    let concurrency = cli.concurrency;
    // Only the load run keeps to a schedule: the fault runs need deliveries in flight when the
    // fault strikes, whatever the machine's speed.
    let rate = cli.rate.filter(|_| run == Run::Load);
    let delivering = tokio::spawn(async move {
        match rate {
            Some(rate) => deliveries.run_at_rate(&[base], concurrency, rate).await,
            None => deliveries.run(&[base], concurrency).await,
        }
    });

    if run != Run::Load {
        while progress.load(Ordering::Relaxed) < total / 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        match run {
            Run::PgRestart => {
                let cluster = cluster.as_ref().expect("started above");
                println!(
                    "stopping Postgres at {}/{total} deliveries",
                    progress.load(Ordering::Relaxed)
                );
                cluster.stop().await?;
                // Longer than the server's 5 s wait for a pooled connection, so deliveries
                // both wait and are refused while it is down.
                tokio::time::sleep(Duration::from_secs(8)).await;
                cluster.start_again().await?;
                println!(
                    "Postgres back at {}/{total}",
                    progress.load(Ordering::Relaxed)
                );
            }
            Run::Sigkill => {
                println!(
                    "SIGKILL at {}/{total} deliveries",
                    progress.load(Ordering::Relaxed)
                );
                kill_and_check(&mut shop, &pool, "while the server is down").await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
                shop.restart().await?;
                println!(
                    "server back at {}/{total}",
                    progress.load(Ordering::Relaxed)
                );
            }
            _ => {}
        }
    }

    let stats = delivering.await??;
    stats.print(cli.events);
    if let Some(counting) = counting {
        counting.print(&pool, cli.events).await?;
    }
    let delivered = events
        .iter()
        .map(|e| check::Paid::from_event(e))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(mib) = shop.rss_mib() {
        println!("server RSS after the run: {mib} MiB");
    }
    let check = check(
        &pool,
        &delivered,
        &refunded_intents,
        0,
        stats.gave_up + refunds.gave_up,
    )
    .await;
    shop.stop().await;
    if let Some(c) = cluster {
        if run == Run::Load && check.is_ok() {
            c.insert_ceiling(cli.concurrency, stats.wall, cli.events)
                .await?;
        }
        if let Some(to) = cli.pg_log.as_ref().filter(|_| run == Run::Load) {
            std::fs::copy(c.dir.join("log"), to)
                .with_context(|| format!("keeping the cluster's log as {}", to.display()))?;
        }
        c.remove().await;
    }
    check
}

/// The statements and commits the shop sends while the payments are delivered: statements
/// from pg_stat_statements, and write transactions from the transaction ids the run's own
/// cluster handed out. (`pg_stat_database.xact_commit` was read here before: each backend
/// reports its counts up to seconds late, so the same run read 1.01, 2.28 or 5.05 commits per
/// event.) A transaction id is taken by every transaction that writes, and only by those, so
/// the count is the durable commits (and rolled-back writes) of everything on the cluster.
struct StatementCount {
    xid_before: i64,
    wal_before: String,
}

impl StatementCount {
    async fn start(pool: &PgPool) -> anyhow::Result<Self> {
        sqlx::raw_sql("create extension if not exists pg_stat_statements")
            .execute(pool)
            .await?;
        sqlx::raw_sql("select pg_stat_statements_reset()")
            .execute(pool)
            .await?;
        Ok(Self {
            xid_before: Self::next_xid(pool).await?,
            wal_before: sqlx::query_scalar("select pg_current_wal_lsn()::text")
                .fetch_one(pool)
                .await?,
        })
    }

    /// The next transaction id the cluster will hand out (read without taking one).
    async fn next_xid(pool: &PgPool) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar::<_, String>("select pg_snapshot_xmax(pg_current_snapshot())::text")
                .fetch_one(pool)
                .await?
                .parse()?,
        )
    }

    async fn print(self, pool: &PgPool, events: usize) -> anyhow::Result<()> {
        let commits = Self::next_xid(pool).await? - self.xid_before;
        let wal: f64 =
            sqlx::query_scalar("select pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8")
                .bind(&self.wal_before)
                .fetch_one(pool)
                .await?;
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "select regexp_replace(left(query, 70), '\\s+', ' ', 'g'), calls
             from pg_stat_statements
             where dbid = (select oid from pg_database where datname = current_database())
               and query not like '%pg_stat%'
             order by calls desc",
        )
        .fetch_all(pool)
        .await?;
        let statements: i64 = rows.iter().map(|(_, calls)| calls).sum();
        let per = |n: i64| n as f64 / events as f64;
        println!(
            "round trips while the payments were delivered: {:.2} statements and {:.2} commits per event ({statements} statements and {commits} writing transactions in all, background work included)",
            per(statements),
            per(commits)
        );
        println!(
            "write-ahead log while the payments were delivered: {:.1} KiB per event ({:.1} MiB in all)",
            wal / events as f64 / 1024.0,
            wal / 1024.0 / 1024.0
        );
        for (query, calls) in rows.iter().take(12) {
            println!("  {:>6.2}/event  {query}", per(*calls));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The shop and its database
// ---------------------------------------------------------------------------------------------

struct Shop {
    child: Child,
    base: String,
    command: (PathBuf, Vec<(String, String)>, PathBuf),
}

impl Shop {
    async fn start(bin: &Path, db_url: &str, standin: &str, name: &str) -> anyhow::Result<Self> {
        let port = free_port()?;
        let env = vec![
            ("DATABASE_URL".into(), db_url.to_string()),
            ("STRIPE_SECRET_KEY".into(), SECRET_KEY.into()),
            ("STRIPE_PUBLISHABLE_KEY".into(), "pk_test_chaos".into()),
            ("STRIPE_WEBHOOK_SECRET".into(), WEBHOOK_SECRET.into()),
            ("STRIPE_API_BASE".into(), format!("{standin}/")),
            ("STRIPE_JS_URL".into(), format!("{standin}/v3/")),
            ("LEPTOS_SITE_ADDR".into(), format!("127.0.0.1:{port}")),
            ("LEPTOS_SITE_ROOT".into(), "target/site-release".into()),
            ("RUST_LOG".into(), "warn".into()),
            // Every order here is opened from one address, far faster than a shopper would.
            ("CHECKOUT_STARTS_PER_MINUTE".into(), "1000000".into()),
        ];
        std::fs::create_dir_all("target/chaos")?;
        let log = PathBuf::from(format!("target/chaos/{name}-server.log"));
        let command = (bin.to_path_buf(), env, log);
        let child = spawn_server(&command)?;
        let shop = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            command,
        };
        shop.wait_healthy().await?;
        Ok(shop)
    }

    async fn wait_healthy(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(r) = reqwest::get(format!("{}/healthz", self.base)).await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "the server did not become healthy; see {}",
            self.command.2.display()
        )
    }

    async fn kill(&mut self) -> anyhow::Result<()> {
        // tokio's kill is SIGKILL: no shutdown code runs.
        self.child.kill().await.context("SIGKILL the server")
    }

    async fn restart(&mut self) -> anyhow::Result<()> {
        self.child = spawn_server(&self.command)?;
        self.wait_healthy().await
    }

    /// Runs one of the server's operator commands against the shop's database, with `input`
    /// on its standard input.
    async fn command(&self, args: &[&str], input: &str) -> anyhow::Result<()> {
        use tokio::io::AsyncWriteExt;
        let (bin, env, _) = &self.command;
        let mut child = Command::new(bin)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut stdin = child.stdin.take().context("the command's stdin")?;
        stdin.write_all(format!("{input}\n").as_bytes()).await?;
        drop(stdin);
        let out = child.wait_with_output().await?;
        ensure!(
            out.status.success(),
            "server {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    /// Resident memory of the server process, from /proc.
    fn rss_mib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()?)).ok()?;
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib / 1024)
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn spawn_server(
    (bin, env, log): &(PathBuf, Vec<(String, String)>, PathBuf),
) -> anyhow::Result<Child> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    Command::new(bin)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {}", bin.display()))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn fresh_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let db = format!("sf_chaos_{}", name.replace('-', "_"));
    let admin = PgPool::connect(admin_url)
        .await
        .with_context(|| format!("connect to {admin_url}"))?;
    // A database's name cannot be a bind parameter; this one is made here from a fixed name.
    sqlx::raw_sql(&format!("drop database if exists \"{db}\" with (force)"))
        .execute(&admin)
        .await?;
    sqlx::raw_sql(&format!("create database \"{db}\""))
        .execute(&admin)
        .await?;
    admin.close().await;
    Ok(format!("{}/{db}", admin_url.rsplit_once('/').unwrap().0))
}

/// A Postgres cluster of this run's own, made with initdb and run with pg_ctl on a free port.
struct Cluster {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
    /// `-c name=value` settings of its own, besides the address.
    settings: Vec<String>,
}

impl Cluster {
    async fn start(settings: &[&str]) -> anyhow::Result<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .context("Postgres binaries under /usr/lib/postgresql")?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|p| p.join("initdb").exists())
            .context("no initdb under /usr/lib/postgresql/*/bin")?;
        let dir = std::env::temp_dir().join(format!("sf-chaos-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let cluster = Self {
            dir,
            port: free_port()?,
            bin,
            settings: settings.iter().map(|s| s.to_string()).collect(),
        };
        // initdb refuses to run as root; the cluster belongs to the postgres user then.
        if is_root() {
            run(Command::new("chown")
                .arg("postgres:postgres")
                .arg(&cluster.dir))
            .await?;
        }
        let data = cluster.dir.join("data");
        run(cluster
            .pg("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data))
        .await?;
        cluster.start_again().await?;
        Ok(cluster)
    }

    fn pg(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    async fn start_again(&self) -> anyhow::Result<()> {
        let mut options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={}",
            self.port,
            self.dir.display()
        );
        for setting in &self.settings {
            options.push_str(" -c ");
            options.push_str(setting);
        }
        run(self
            .pg("pg_ctl")
            .args(["-w", "-D"])
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-o", &options, "start"]))
        .await
    }

    async fn stop(&self) -> anyhow::Result<()> {
        run(self
            .pg("pg_ctl")
            .args(["-w", "-m", "fast", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop"))
        .await
    }

    /// Readies the write-ahead log as a database that has been running has it. Postgres makes
    /// each 16 MB log file as it first needs it, filling it with zeros, and reuses the old ones
    /// at each checkpoint; a cluster made for the run has none to reuse, so every 16 MB of log
    /// (about every two seconds of the 2,000/s run) a commit waited some 10 ms for a new file
    /// (bench/RESULTS.md, 2026-12-07, session 18). Some 200 MB of throwaway log and a
    /// checkpoint leave files to reuse, as on a shop's database.
    async fn ready_wal(&self) -> anyhow::Result<()> {
        let admin = PgPool::connect(&self.admin_url()).await?;
        sqlx::raw_sql(
            "create table chaos_wal_ready as
                 select repeat('x', 500) as filler from generate_series(1, 350000);
             drop table chaos_wal_ready;
             checkpoint;",
        )
        .execute(&admin)
        .await?;
        let files: i64 = sqlx::query_scalar("select count(*) from pg_ls_waldir()")
            .fetch_one(&admin)
            .await?;
        println!("write-ahead log readied as a running database's: {files} files of 16 MB");
        admin.close().await;
        Ok(())
    }

    /// The machine's ceiling for durable one-row inserts, each its own transaction, measured
    /// with pgbench on this cluster: with one client and with as many as the run had in
    /// flight. Prints the run's rate beside both.
    async fn insert_ceiling(
        &self,
        concurrency: usize,
        wall: Duration,
        events: usize,
    ) -> anyhow::Result<()> {
        let db = "ceiling";
        let admin = PgPool::connect(&self.admin_url()).await?;
        // One statement each: several in one string run as one transaction, which these refuse.
        for statement in [
            format!("drop database if exists {db}"),
            format!("create database {db}"),
        ] {
            sqlx::raw_sql(&statement).execute(&admin).await?;
        }
        admin.close().await;
        let pool =
            PgPool::connect(&format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)).await?;
        sqlx::raw_sql("create table one_row (id bigserial primary key, at timestamptz not null default now())")
            .execute(&pool)
            .await?;
        pool.close().await;
        let script = self.dir.join("insert.sql");
        std::fs::write(&script, "insert into one_row default values;\n")?;
        let rate = events as f64 / wall.as_secs_f64();
        for clients in [1, concurrency] {
            let out = Command::new(self.bin.join("pgbench"))
                .args(["-n", "-T", "10", "-h", "127.0.0.1", "-U", "postgres"])
                .args(["-p", &self.port.to_string(), "-c", &clients.to_string()])
                .arg("-f")
                .arg(&script)
                .arg(db)
                .stdin(Stdio::null())
                .output()
                .await?;
            ensure!(
                out.status.success(),
                "pgbench failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8_lossy(&out.stdout);
            let tps: f64 = text
                .lines()
                .find_map(|l| l.strip_prefix("tps = "))
                .and_then(|l| l.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .context("pgbench printed no tps")?;
            println!(
                "insert ceiling (pgbench, one-row insert per transaction, {clients} clients): {tps:.0}/s; the run's {rate:.0} events/s is {:.0}% of it",
                rate / tps * 100.0
            );
        }
        Ok(())
    }

    async fn remove(self) {
        let _ = run(self
            .pg("pg_ctl")
            .args(["-w", "-m", "immediate", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop"))
        .await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    std::env::var("USER").is_ok_and(|u| u == "root")
        || std::fs::metadata("/proc/self").is_ok_and(|m| {
            use std::os::unix::fs::MetadataExt;
            m.uid() == 0
        })
}

async fn run(command: &mut Command) -> anyhow::Result<()> {
    let out = command.stdin(Stdio::null()).output().await?;
    ensure!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Orders and their events
// ---------------------------------------------------------------------------------------------

/// The events of a run, as raw JSON, not yet signed.
struct Prepared {
    /// One `payment_intent.succeeded` per order.
    succeeded: Vec<String>,
    /// One `charge.refunded` per order refunded in full.
    refunded: Vec<String>,
    refunded_intents: HashSet<String>,
}

/// Opens `n` orders through the shop's checkout, pays each intent at the stand-in, refunds
/// every tenth payment in full, and returns the events Stripe would send.
async fn paid_events(shop: &str, standin: &str, n: usize) -> anyhow::Result<Prepared> {
    #[derive(serde::Deserialize)]
    struct Session {
        client_secret: String,
    }
    let http = reqwest::Client::new();
    let stripe = stripe::ClientBuilder::new(SECRET_KEY)
        .url(format!("{standin}/"))
        .build()?;
    let opened = futures::stream::iter(0..n)
        .map(|i| {
            let http = http.clone();
            let stripe = stripe.clone();
            async move {
                // No cookie: every call is a new shopper and a new order.
                let session: Session = http
                    .post(format!("{shop}/api/start_checkout"))
                    .form(&[("slug", SLUGS[i % SLUGS.len()])])
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                let intent = session
                    .client_secret
                    .split("_secret_")
                    .next()
                    .unwrap_or_default()
                    .to_string();
                stripe_core::payment_intent::ConfirmPaymentIntent::new(intent.as_str())
                    .payment_method("pm_card_visa")
                    .send(&stripe)
                    .await?;
                if i % 10 == 0 {
                    stripe_core::refund::CreateRefund::new()
                        .payment_intent(intent.as_str())
                        .send(&stripe)
                        .await?;
                    return anyhow::Ok(Some(intent));
                }
                anyhow::Ok(None)
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let mut refunded_intents = HashSet::new();
    for result in opened {
        refunded_intents.extend(result?);
    }

    let succeeded = list_events(&http, standin, "payment_intent.succeeded").await?;
    ensure!(
        succeeded.len() == n,
        "expected {n} succeeded events, the stand-in has {}",
        succeeded.len()
    );
    let refunded = list_events(&http, standin, "charge.refunded").await?;
    ensure!(
        refunded.len() == refunded_intents.len(),
        "expected {} refund events, the stand-in has {}",
        refunded_intents.len(),
        refunded.len()
    );
    Ok(Prepared {
        succeeded,
        refunded,
        refunded_intents,
    })
}

/// Every event of `type_` at the stand-in, page by page.
async fn list_events(
    http: &reqwest::Client,
    standin: &str,
    type_: &str,
) -> anyhow::Result<Vec<String>> {
    let mut events = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut query = vec![("type", type_.to_string()), ("limit", "100".to_string())];
        if let Some(a) = &after {
            query.push(("starting_after", a.clone()));
        }
        let page: serde_json::Value = http
            .get(format!("{standin}/v1/events"))
            .bearer_auth(SECRET_KEY)
            .query(&query)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let data = page["data"].as_array().context("events list has data")?;
        for event in data {
            events.push(serde_json::to_string(event)?);
        }
        after = data.last().and_then(|e| e["id"].as_str()).map(String::from);
        if page["has_more"] != serde_json::Value::Bool(true) || after.is_none() {
            break;
        }
    }
    Ok(events)
}

// ---------------------------------------------------------------------------------------------
// Delivering
// ---------------------------------------------------------------------------------------------

struct Deliveries {
    queue: Arc<Mutex<Vec<Arc<String>>>>,
    total: usize,
    done: Arc<AtomicUsize>,
}

#[derive(Default)]
struct Stats {
    wall: Duration,
    deliveries: usize,
    /// Every attempt that got a 2xx: when it was due (or, for a retry, sent), and how long
    /// its answer took from then.
    ok: Vec<(Instant, Duration)>,
    /// When the run began, by the monotonic clock and by the wall clock (to line its slow
    /// moments up with the database's log).
    started: Option<(Instant, std::time::SystemTime)>,
    /// Answers with a 2xx, by the server (index into the bases) that gave them.
    answered_by: Vec<usize>,
    /// Answers that were not 2xx, by status; 0 means no answer (connection refused or reset).
    refused: std::collections::BTreeMap<u16, usize>,
    gave_up: usize,
}

impl Deliveries {
    fn new(events: &[String], copies: usize) -> Self {
        let mut queue: Vec<Arc<String>> = events
            .iter()
            .map(|e| Arc::new(e.clone()))
            .flat_map(|e| std::iter::repeat_n(e, copies))
            .collect();
        queue.shuffle(&mut rand::rng());
        Self {
            total: queue.len(),
            queue: Arc::new(Mutex::new(queue)),
            done: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Delivers everything to `bases`, each attempt to one of them at random.
    async fn run(self, bases: &[String], concurrency: usize) -> anyhow::Result<Stats> {
        let (http, urls, stats) = sender(bases, concurrency)?;
        let started = Instant::now();
        let workers = (0..concurrency).map(|_| {
            let (queue, done, stats, http, urls) = (
                self.queue.clone(),
                self.done.clone(),
                stats.clone(),
                http.clone(),
                urls.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let Some(event) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    deliver(&http, &urls, &event, &stats, Instant::now()).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        });
        for worker in futures::future::join_all(workers).await {
            worker?;
        }
        finished(stats, started, self.total)
    }

    /// Delivers everything to `bases` on a fixed schedule of `rate` a second, the way webhooks
    /// reach a shop: each sent when it is due, whether or not earlier ones were answered, with
    /// at most `concurrency` in flight. A delivery that waits for a free slot, or whose sender
    /// is late, counts that wait in its latency (which is measured from when it was due), so a
    /// server that cannot keep up shows it in the percentiles and in the wall time.
    async fn run_at_rate(
        self,
        bases: &[String],
        concurrency: usize,
        rate: f64,
    ) -> anyhow::Result<Stats> {
        ensure!(rate > 0.0, "--rate must be above 0");
        let (http, urls, stats) = sender(bases, concurrency)?;
        let slots = Arc::new(tokio::sync::Semaphore::new(concurrency));
        let queue = std::mem::take(&mut *self.queue.lock().unwrap());
        let started = Instant::now();
        let mut sending = tokio::task::JoinSet::new();
        for (n, event) in queue.into_iter().enumerate() {
            let due = started + Duration::from_secs_f64(n as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
            let (slots, done, stats, http, urls) = (
                slots.clone(),
                self.done.clone(),
                stats.clone(),
                http.clone(),
                urls.clone(),
            );
            sending.spawn(async move {
                let _slot = slots.acquire_owned().await.expect("never closed");
                deliver(&http, &urls, &event, &stats, due).await;
                done.fetch_add(1, Ordering::Relaxed);
            });
        }
        while let Some(sent) = sending.join_next().await {
            sent?;
        }
        finished(stats, started, self.total)
    }
}

type Sender = (reqwest::Client, Arc<Vec<String>>, Arc<Mutex<Stats>>);

/// What a run delivers with: an HTTP client keeping up to `concurrency` connections, each
/// base's webhook URL, and the stats its deliveries add to.
fn sender(bases: &[String], concurrency: usize) -> anyhow::Result<Sender> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let urls = bases
        .iter()
        .map(|base| format!("{base}/webhooks/stripe"))
        .collect();
    let stats = Stats {
        answered_by: vec![0; bases.len()],
        ..Stats::default()
    };
    Ok((http, Arc::new(urls), Arc::new(Mutex::new(stats))))
}

/// A run's stats once every delivery has ended (and dropped its handle on them).
fn finished(stats: Arc<Mutex<Stats>>, started: Instant, total: usize) -> anyhow::Result<Stats> {
    let mut stats = Arc::try_unwrap(stats)
        .map_err(|_| anyhow::anyhow!("a delivery still holds the stats"))?
        .into_inner()
        .unwrap();
    stats.wall = started.elapsed();
    stats.deliveries = total;
    let since = started.elapsed();
    stats.started = Some((started, std::time::SystemTime::now() - since));
    Ok(stats)
}

/// Delivers one copy as Stripe does: signed at send time, retried with a growing pause until a
/// 2xx, for at most two minutes. The first attempt's latency counts from `due` (when the
/// delivery was meant to go out), a retry's from its own send.
async fn deliver(
    http: &reqwest::Client,
    urls: &[String],
    event: &str,
    stats: &Mutex<Stats>,
    due: Instant,
) {
    use rand::Rng;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut pause = Duration::from_millis(50);
    let mut from = Some(due);
    loop {
        let to = rand::rng().random_range(0..urls.len());
        let sent = from.take().unwrap_or_else(Instant::now);
        let result = http
            .post(&urls[to])
            .header("content-type", "application/json")
            .header("stripe-signature", sign(event))
            .body(event.to_string())
            .send()
            .await;
        let took = sent.elapsed();
        let status = result.map(|r| r.status().as_u16()).unwrap_or(0);
        {
            let mut stats = stats.lock().unwrap();
            if (200..300).contains(&status) {
                stats.ok.push((sent, took));
                stats.answered_by[to] += 1;
                return;
            }
            *stats.refused.entry(status).or_default() += 1;
            if Instant::now() > deadline {
                stats.gave_up += 1;
                return;
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

fn sign(payload: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    stripe_standin::webhooks::signature_header(payload, &[WEBHOOK_SECRET], t as i64)
}

impl Stats {
    fn print(&self, distinct: usize) {
        let mut lat: Vec<Duration> = self.ok.iter().map(|&(_, took)| took).collect();
        lat.sort();
        let pct = |p: f64| {
            lat.get(((lat.len() as f64 * p).ceil() as usize).saturating_sub(1))
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        let secs = self.wall.as_secs_f64();
        println!(
            "delivered {} copies of {distinct} events in {secs:.2} s: {:.0} deliveries/s, {:.0} distinct events/s",
            self.deliveries,
            self.deliveries as f64 / secs,
            distinct as f64 / secs
        );
        println!(
            "latency of answered deliveries: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            pct(0.50),
            pct(0.99),
            pct(1.0)
        );
        if self.refused.is_empty() {
            println!("every delivery answered 2xx the first time");
        } else {
            let refused: Vec<String> = self
                .refused
                .iter()
                .map(|(s, n)| match s {
                    0 => format!("{n} without an answer"),
                    s => format!("{n} x {s}"),
                })
                .collect();
            println!("retried: {}", refused.join(", "));
        }
        if self.gave_up > 0 {
            println!("GAVE UP on {} deliveries after two minutes", self.gave_up);
        }
        self.print_slow_moments(pct(0.99));
    }

    /// The run's slowest moments: the 100 ms stretches (by when deliveries were due) holding
    /// more than their share of answers slower than the run's p99, each with its wall-clock
    /// time in UTC, so a tail can be laid beside Postgres's log (checkpoints, autovacuum) or
    /// the server's. Up to eight, in time order.
    fn print_slow_moments(&self, p99_ms: f64) {
        const WINDOW: Duration = Duration::from_millis(100);
        let Some((started, wall_start)) = self.started else {
            return;
        };
        let mut windows: std::collections::BTreeMap<u64, (usize, usize, Duration)> =
            Default::default();
        for &(due, took) in &self.ok {
            let at = due.saturating_duration_since(started);
            let w = windows
                .entry((at.as_millis() / WINDOW.as_millis()) as u64)
                .or_default();
            w.0 += 1;
            if took.as_secs_f64() * 1000.0 > p99_ms {
                w.1 += 1;
            }
            w.2 = w.2.max(took);
        }
        let mut slow: Vec<_> = windows.into_iter().filter(|(_, w)| w.1 > 0).collect();
        if slow.is_empty() {
            return;
        }
        slow.sort_by_key(|(_, w)| std::cmp::Reverse(w.1));
        slow.truncate(8);
        slow.sort_by_key(|&(n, _)| n);
        println!("slowest moments (100 ms by due time; answers slower than p99 / all, max):");
        for (n, (all, over, max)) in slow {
            let offset = WINDOW * n as u32;
            let wall = wall_start + offset;
            let ms = wall
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() % 86_400_000);
            println!(
                "  +{:6.1} s ({:02}:{:02}:{:02}.{:03} UTC): {over}/{all}, max {:.1} ms",
                offset.as_secs_f64(),
                ms / 3_600_000,
                ms / 60_000 % 60,
                ms / 1000 % 60,
                ms % 1000,
                max.as_secs_f64() * 1000.0
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// SIGKILLs `shop` mid-run and checks that what it left is whole: no code of its ran after
/// the kill, so nothing may be half done.
async fn kill_and_check(shop: &mut Shop, pool: &PgPool, when: &str) -> anyhow::Result<()> {
    shop.kill().await?;
    let torn = torn_orders(pool).await?;
    println!("{when}: {torn} half-done orders");
    ensure!(torn == 0, "{torn} orders are half done after the kill");
    Ok(())
}

/// Orders that are paid without their grant, or that hold a live grant without being paid.
/// A refunded order keeps its revoked grant: when reconciliation (the server's background job
/// reading Stripe's events) settles a payment before its refund arrives, the order is granted
/// and then revoked, which is right.
async fn torn_orders(pool: &PgPool) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"select (select count(*) from customer_order o
                   where o.status = 'paid'
                     and not exists (select 1 from entitlement e
                                     where e.order_id = o.id and e.revoked_at is null))
                + (select count(*) from entitlement e join customer_order o on o.id = e.order_id
                   where o.status <> 'paid' and e.revoked_at is null) as "torn!""#
    )
    .fetch_one(pool)
    .await?)
}

async fn check(
    pool: &PgPool,
    delivered: &[check::Paid],
    refunded: &HashSet<String>,
    unpaid: usize,
    gave_up: usize,
) -> anyhow::Result<()> {
    let torn = torn_orders(pool).await?;
    println!(
        "check: {} payments delivered ({} refunded first), {gave_up} deliveries given up, {torn} orders half done",
        delivered.len(),
        refunded.len()
    );
    ensure!(
        gave_up == 0,
        "{gave_up} deliveries were given up after two minutes of retries"
    );
    ensure!(torn == 0, "{torn} orders are half done");
    check::matches(pool, delivered, refunded, unpaid).await?;
    println!(
        "OK: every event settled its own order once, with one grant for its product, and no refunded order holds a live grant"
    );
    Ok(())
}
