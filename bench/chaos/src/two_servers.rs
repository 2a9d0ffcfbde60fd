//! `two-servers`: two server processes on different ports and one database, as a shop behind a
//! load balancer runs. Every delivery goes to either server at random (a retry too), and one
//! server is SIGKILLed a third of the way through while the other keeps answering. Measured
//! and checked besides the usual end-of-run check:
//! - a price saved through one server's admin, timed until the other's product page shows it;
//! - background work both servers start with (orders past their time to expire, events stored
//!   but never settled) done once across both: one cancellation at Stripe per expired order,
//!   one settlement per stored event.

use std::collections::HashMap;

use serde_json::Value;

use super::*;

const ADMIN_EMAIL: &str = "admin@chaos.example";
const ADMIN_PASSWORD: &str = "two-servers-admin-password";
/// Open orders aged past their time before the servers start, for the expiry sweep.
const STALE_ORDERS: usize = 20;
/// Paid events stored as if a server had stopped before settling them, for the replay.
const STORED_EVENTS: usize = 20;
/// The product whose price changes mid-run (priced in USD).
const REPRICED: &str = "field-recordings-vol-1";

pub async fn run(cli: &Cli) -> anyhow::Result<()> {
    println!("\n=== two-servers");
    let db_url = fresh_database(&cli.admin_url, "two-servers").await?;
    let standin = stripe_standin::spawn(Default::default()).await?;
    let pool = PgPool::connect(&db_url).await?;

    // One server opens the orders and then stops; the other work is planted while none runs.
    let mut a = Shop::start(&cli.server, &db_url, &standin.base_url, "two-servers-a").await?;
    let started = Instant::now();
    let Prepared {
        succeeded: events,
        refunded,
        refunded_intents,
    } = paid_events(&a.base, &standin.base_url, cli.events).await?;
    let stale = open_orders(&a.base, STALE_ORDERS).await?;
    println!(
        "prepared {} paid orders ({} refunded in full) and {} open ones in {:.1} s",
        events.len(),
        refunded.len(),
        stale.len(),
        started.elapsed().as_secs_f64()
    );
    a.kill().await?;
    let stored = plant_background_work(&pool, &events, &refunded_intents, &stale).await?;
    a.command(
        &["admin", "create-user", ADMIN_EMAIL, "--password-stdin"],
        ADMIN_PASSWORD,
    )
    .await?;

    // Both start at once, and each queues a housekeeping run as it starts.
    let (restarted, b) = tokio::join!(
        a.restart(),
        Shop::start(&cli.server, &db_url, &standin.base_url, "two-servers-b")
    );
    restarted?;
    let mut b = b?;
    background_done_once(&pool, &standin.base_url, &stale, &stored).await?;

    let bases = vec![a.base.clone(), b.base.clone()];
    let refunds = Deliveries::new(&refunded, cli.copies)
        .run(&bases, cli.concurrency)
        .await?;
    print!("refunds first: ");
    refunds.print(refunded.len());

    let deliveries = Deliveries::new(&events, cli.copies);
    let (total, progress) = (deliveries.total, deliveries.done.clone());
    let concurrency = cli.concurrency;
    let targets = bases.clone();
    let delivering = tokio::spawn(async move { deliveries.run(&targets, concurrency).await });

    let seen = price_change_seen(&pool, &a.base, &b.base).await?;
    println!(
        "a price saved through one server was on the other's product page {:.0} ms later",
        seen.as_secs_f64() * 1000.0
    );

    while progress.load(Ordering::Relaxed) < total / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "SIGKILL of the second server at {}/{total} deliveries",
        progress.load(Ordering::Relaxed)
    );
    kill_and_check(&mut b, &pool, "right after the kill").await?;

    let stats = delivering.await??;
    stats.print(cli.events);
    println!(
        "answered 2xx by the first server: {}, by the second: {} (down from the kill on)",
        stats.answered_by[0], stats.answered_by[1]
    );
    let delivered = events
        .iter()
        .map(|e| check::Paid::from_event(e))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let outcome = check(
        &pool,
        &delivered,
        &refunded_intents,
        stale.len(),
        stats.gave_up + refunds.gave_up,
    )
    .await;
    a.stop().await;
    outcome
}

/// Opens `n` orders that are never paid; returns their PaymentIntents.
async fn open_orders(shop: &str, n: usize) -> anyhow::Result<Vec<String>> {
    let http = reqwest::Client::new();
    let mut intents = Vec::with_capacity(n);
    for i in 0..n {
        let session: Value = http
            .post(format!("{shop}/api/start_checkout"))
            .form(&[("slug", SLUGS[i % SLUGS.len()])])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let secret = session["client_secret"]
            .as_str()
            .context("a checkout has a client secret")?;
        intents.push(
            secret
                .split("_secret_")
                .next()
                .unwrap_or_default()
                .to_string(),
        );
    }
    Ok(intents)
}

/// Ages the open orders past their time, and stores some paid events (of orders not refunded)
/// as received an hour ago and never settled. Returns those events' ids.
async fn plant_background_work(
    pool: &PgPool,
    events: &[String],
    refunded_intents: &HashSet<String>,
    stale: &[String],
) -> anyhow::Result<Vec<String>> {
    sqlx::query(
        "update customer_order set created_at = now() - interval '2 days'
         where payment_intent_id = any($1)",
    )
    .bind(stale)
    .execute(pool)
    .await?;
    let mut stored = Vec::new();
    for raw in events {
        let paid = check::Paid::from_event(raw)?;
        if refunded_intents.contains(&paid.intent_id) {
            continue;
        }
        sqlx::query(
            "insert into stripe_event (id, type, payload, source, received_at, payment_intent_id)
             values ($1, 'payment_intent.succeeded', $2::jsonb, 'webhook',
                     now() - interval '1 hour', $3)",
        )
        .bind(&paid.event_id)
        .bind(raw)
        .bind(&paid.intent_id)
        .execute(pool)
        .await?;
        stored.push(paid.event_id);
        if stored.len() == STORED_EVENTS {
            break;
        }
    }
    Ok(stored)
}

/// Waits for the housekeeping both servers queued at their starts, then checks it was done
/// once: each expired order cancelled at Stripe by one call, each stored event settled by one
/// attempt.
async fn background_done_once(
    pool: &PgPool,
    standin: &str,
    stale: &[String],
    stored: &[String],
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (open, unhandled): (i64, i64) = sqlx::query_as(
            "select (select count(*) from customer_order
                     where payment_intent_id = any($1) and status in ('pending', 'failed')),
                    (select count(*) from stripe_event where id = any($2) and handled_at is null)",
        )
        .bind(stale)
        .bind(stored)
        .fetch_one(pool)
        .await?;
        if open == 0 && unhandled == 0 {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "after 90 s, {open} orders are still open and {unhandled} stored events unsettled"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let a second run, if one were to do the same work again, have its turn.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let runs: i64 = sqlx::query_scalar(
        "select count(*) from underway.task
         where task_queue_name = 'housekeeping' and state = 'succeeded'",
    )
    .fetch_one(pool)
    .await?;
    let requests: Vec<Value> = reqwest::get(format!("{standin}/_standin/requests"))
        .await?
        .error_for_status()?
        .json()
        .await?;
    let mut cancels: HashMap<&str, usize> = HashMap::new();
    for r in &requests {
        let path = r["path"].as_str().unwrap_or_default();
        if let Some(intent) = path
            .strip_prefix("/v1/payment_intents/")
            .and_then(|p| p.strip_suffix("/cancel"))
        {
            *cancels.entry(intent).or_default() += 1;
        }
    }
    let calls: usize = stale
        .iter()
        .map(|i| cancels.get(i.as_str()).copied().unwrap_or(0))
        .sum();
    let attempts: Vec<i32> =
        sqlx::query_scalar("select attempts from stripe_event where id = any($1)")
            .bind(stored)
            .fetch_all(pool)
            .await?;
    let settled_once = attempts.iter().filter(|a| **a == 1).count();
    println!(
        "background work at both starts ({runs} housekeeping runs done): {} expired orders, {calls} cancellations at Stripe; {} stored events, {settled_once} settled at the first attempt",
        stale.len(),
        stored.len()
    );
    ensure!(
        calls == stale.len() && stale.iter().all(|i| cancels.get(i.as_str()) == Some(&1)),
        "an expired order was cancelled at Stripe other than once"
    );
    ensure!(
        settled_once == stored.len(),
        "a stored event was settled other than once: attempts {attempts:?}"
    );
    Ok(())
}

/// Saves a new price through `admin`'s product form, signed in as the admin, and returns how
/// long after the save answered `other` served the product page with it.
async fn price_change_seen(pool: &PgPool, admin: &str, other: &str) -> anyhow::Result<Duration> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let signed_in = http
        .post(format!("{admin}/api/sign_in"))
        .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send()
        .await?;
    let cookie = signed_in
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sf_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
        .with_context(|| {
            format!(
                "signing in answered {} without a session",
                signed_in.status()
            )
        })?;

    let (id, version, title, description, kind, currency, credits, price_credits, days): (
        i64,
        i32,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
    ) = sqlx::query_as(
        "select id, version, title, description, kind, currency,
                coalesce(credits::text, ''), coalesce(price_credits::text, ''),
                coalesce(membership_days::text, '')
         from product where slug = $1",
    )
    .bind(REPRICED)
    .fetch_one(pool)
    .await?;
    ensure!(currency == "usd", "{REPRICED} is not priced in USD");
    let page = format!("{other}/products/{REPRICED}");
    let shows_new_price = || async {
        let body = http
            .get(&page)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        anyhow::Ok(body.contains("$43.21"))
    };
    ensure!(!shows_new_price().await?, "the new price is already shown");

    let saved = http
        .post(format!("{admin}/api/admin_save_product"))
        .header(reqwest::header::COOKIE, &cookie)
        .form(&[
            ("id", id.to_string()),
            ("version", version.to_string()),
            ("title", title),
            ("slug", REPRICED.to_string()),
            ("description", description),
            ("kind", kind),
            ("price", "43.21".to_string()),
            ("currency", currency),
            ("credits", credits),
            ("price_credits", price_credits),
            ("membership_days", days),
        ])
        .send()
        .await?;
    let at = Instant::now();
    // A form post is answered with a redirect, a script's call with 200.
    ensure!(
        saved.status().is_redirection() || saved.status().is_success(),
        "saving the price answered {}: {}",
        saved.status(),
        saved.text().await.unwrap_or_default()
    );
    while !shows_new_price().await? {
        ensure!(
            at.elapsed() < Duration::from_secs(10),
            "the other server did not show the new price within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(at.elapsed())
}
