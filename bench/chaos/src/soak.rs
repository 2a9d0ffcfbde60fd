//! `soak`: mixed traffic at a steady rate for a fixed time (ten minutes by default), against a
//! release server and the stand-in, which delivers every event to the shop itself, signed and
//! retried as Stripe does. Each second brings page views (the catalog, product pages and a
//! policy page; a quarter with the session cookie of a shopper whose checkout is open) and
//! checkout starts, eight in ten of them paid at the stand-in, one declined and one left open.
//! Prints a line a minute; at the end it waits for the stand-in's deliveries and checks:
//! no 5xx, every payment's order paid with one live grant, and the server's memory within 10%
//! of what it was after the first minute.

use serde_json::{Value, json};

use super::*;

/// Requests of each kind in flight at most (see `at_rate`).
const MOST_IN_FLIGHT: usize = 64;

#[derive(Default)]
struct Minute {
    pages: Vec<Duration>,
    checkouts: Vec<Duration>,
    paid: usize,
    server_errors: usize,
    failures: usize,
    skipped: usize,
}

pub async fn run(cli: &Cli) -> anyhow::Result<()> {
    println!(
        "\n=== soak: {} min, {} page views/s, {} checkouts/s",
        cli.minutes, cli.pages, cli.checkouts
    );
    let db_url = fresh_database(&cli.admin_url, "soak").await?;
    let standin = stripe_standin::spawn(Default::default()).await?;
    let shop = Shop::start(&cli.server, &db_url, &standin.base_url, "soak").await?;
    let http = reqwest::Client::new();
    http.post(format!("{}/_standin/webhook_endpoints", standin.base_url))
        .json(&json!({ "url": format!("{}/webhooks/stripe", shop.base), "secret": WEBHOOK_SECRET }))
        .send()
        .await?
        .error_for_status()?;
    let pool = PgPool::connect(&db_url).await?;

    let minute = Arc::new(Mutex::new(Minute::default()));
    let paid = Arc::new(Mutex::new(Vec::<String>::new()));
    let cookies = Arc::new(Mutex::new(Vec::<String>::new()));
    let end = Instant::now() + Duration::from_secs(60 * cli.minutes);

    let pages = tokio::spawn(page_views(
        http.clone(),
        shop.base.clone(),
        cli.pages,
        end,
        minute.clone(),
        cookies.clone(),
    ));
    let stripe = stripe::ClientBuilder::new(SECRET_KEY)
        .url(format!("{}/", standin.base_url))
        .build()?;
    let checkouts = tokio::spawn(checkouts(
        http.clone(),
        stripe,
        shop.base.clone(),
        cli.checkouts,
        end,
        minute.clone(),
        paid.clone(),
        cookies,
    ));

    let mut rss_after_first = None;
    let mut totals = Minute::default();
    let mut events_before = 0;
    for n in 1..=cli.minutes {
        tokio::time::sleep_until((end - Duration::from_secs(60 * (cli.minutes - n))).into()).await;
        let done = std::mem::take(&mut *minute.lock().unwrap());
        let events: i64 = sqlx::query_scalar("select count(*) from stripe_event")
            .fetch_one(&pool)
            .await?;
        let rss = shop.rss_mib();
        if n == 1 {
            rss_after_first = rss;
        }
        println!(
            "minute {n:>2}: {} page views (p50 {:.1} ms, p99 {:.1} ms), {} checkouts (p99 {:.1} ms), {} paid, {} events stored, {} 5xx, {} failed, {} skipped, server RSS {} MiB",
            done.pages.len(),
            percentile(&done.pages, 0.50),
            percentile(&done.pages, 0.99),
            done.checkouts.len(),
            percentile(&done.checkouts, 0.99),
            done.paid,
            events - events_before,
            done.server_errors,
            done.failures,
            done.skipped,
            rss.map_or("?".into(), |r| r.to_string())
        );
        events_before = events;
        totals.paid += done.paid;
        totals.server_errors += done.server_errors;
        totals.failures += done.failures;
        totals.skipped += done.skipped;
    }
    pages.await?;
    checkouts.await?;
    let rss_end = shop.rss_mib();

    // Stripe's deliveries still on their way (retries included) settle before the check.
    let settled_by = Instant::now() + Duration::from_secs(120);
    loop {
        let pending: Value = http
            .get(format!("{}/_standin/deliveries/pending", standin.base_url))
            .send()
            .await?
            .json()
            .await?;
        if pending["in_flight"] == 0 && pending["scheduled"] == 0 {
            break;
        }
        ensure!(
            Instant::now() < settled_by,
            "deliveries still pending after two minutes: {pending}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let paid = paid.lock().unwrap().clone();
    let unsettled: Vec<String> = sqlx::query_scalar(
        "select i from unnest($1::text[]) i
         where not exists (
             select 1 from customer_order o join entitlement e on e.order_id = o.id
             where o.payment_intent_id = i and o.status = 'paid' and e.revoked_at is null)",
    )
    .bind(&paid)
    .fetch_all(&pool)
    .await?;
    let doubled: i64 = sqlx::query_scalar(
        r#"select count(*) from (select order_id from entitlement group by order_id
                                 having count(*) > 1) d"#,
    )
    .fetch_one(&pool)
    .await?;
    let growth = match (rss_after_first, rss_end) {
        (Some(first), Some(last)) if first > 0 => Some((last as f64 / first as f64 - 1.0) * 100.0),
        _ => None,
    };
    println!(
        "soak: {} payments, {} of them not settled, {doubled} orders granted twice; {} 5xx, {} failed requests, {} ticks skipped; server RSS {} MiB after the first minute, {} MiB at the end ({})",
        paid.len(),
        unsettled.len(),
        totals.server_errors,
        totals.failures,
        totals.skipped,
        rss_after_first.map_or("?".into(), |r| r.to_string()),
        rss_end.map_or("?".into(), |r| r.to_string()),
        growth.map_or("?".into(), |g| format!("{g:+.1}%"))
    );
    shop.stop().await;
    ensure!(
        unsettled.is_empty(),
        "payments whose order is not paid with a live grant: {unsettled:?}"
    );
    ensure!(doubled == 0, "{doubled} orders were granted twice");
    ensure!(totals.server_errors == 0, "the server answered 5xx");
    ensure!(totals.failures == 0, "requests failed without an answer");
    let growth = growth.context("the server's memory could not be read")?;
    ensure!(
        growth.abs() <= 10.0,
        "server memory moved {growth:+.1}% from the first minute to the end"
    );
    println!("OK: no 5xx, every payment settled once, memory steady");
    Ok(())
}

fn percentile(samples: &[Duration], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted
        .get(((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1))
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Page views at `rate` a second until `end`.
async fn page_views(
    http: reqwest::Client,
    base: String,
    rate: u64,
    end: Instant,
    minute: Arc<Mutex<Minute>>,
    cookies: Arc<Mutex<Vec<String>>>,
) {
    let paths: Vec<String> = ["/", "/terms"]
        .into_iter()
        .map(String::from)
        .chain(SLUGS.iter().map(|s| format!("/products/{s}")))
        .collect();
    at_rate(rate, end, &minute, |i| {
        let url = format!("{base}{}", paths[i % paths.len()]);
        // A quarter of the views are a shopper's whose checkout is open (no kept page).
        let cookie = i
            .is_multiple_of(4)
            .then(|| {
                let cookies = cookies.lock().unwrap();
                cookies.get(i % cookies.len().max(1)).cloned()
            })
            .flatten();
        let (http, minute) = (http.clone(), minute.clone());
        async move {
            let mut request = http.get(&url);
            if let Some(cookie) = cookie {
                request = request.header(reqwest::header::COOKIE, cookie);
            }
            let sent = Instant::now();
            let answer = request.send().await;
            let body = match answer {
                Ok(r) => {
                    let status = r.status();
                    r.bytes().await.map(|_| status)
                }
                Err(e) => Err(e),
            };
            let took = sent.elapsed();
            let mut minute = minute.lock().unwrap();
            match body {
                Ok(status) if status.is_server_error() => minute.server_errors += 1,
                Ok(_) => minute.pages.push(took),
                Err(_) => minute.failures += 1,
            }
        }
    })
    .await;
}

/// Checkout starts at `rate` a second until `end`: eight in ten paid, one declined, one left
/// open.
#[allow(clippy::too_many_arguments)]
async fn checkouts(
    http: reqwest::Client,
    stripe: stripe::Client,
    base: String,
    rate: u64,
    end: Instant,
    minute: Arc<Mutex<Minute>>,
    paid: Arc<Mutex<Vec<String>>>,
    cookies: Arc<Mutex<Vec<String>>>,
) {
    at_rate(rate, end, &minute, |i| {
        let (http, stripe, base) = (http.clone(), stripe.clone(), base.clone());
        let (minute, paid, cookies) = (minute.clone(), paid.clone(), cookies.clone());
        async move {
            let sent = Instant::now();
            let answer = http
                .post(format!("{base}/api/start_checkout"))
                .form(&[("slug", SLUGS[i % SLUGS.len()])])
                .send()
                .await;
            let took = sent.elapsed();
            let response = match answer {
                Ok(r) if r.status().is_server_error() => {
                    minute.lock().unwrap().server_errors += 1;
                    return;
                }
                Ok(r) if r.status().is_success() => r,
                _ => {
                    minute.lock().unwrap().failures += 1;
                    return;
                }
            };
            if let Some(cookie) = response
                .headers()
                .get(reqwest::header::SET_COOKIE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
            {
                let mut cookies = cookies.lock().unwrap();
                if cookies.len() < 200 {
                    cookies.push(cookie.to_string());
                }
            }
            let Ok(session) = response.json::<Value>().await else {
                minute.lock().unwrap().failures += 1;
                return;
            };
            minute.lock().unwrap().checkouts.push(took);
            let intent = session["client_secret"]
                .as_str()
                .and_then(|s| s.split("_secret_").next())
                .unwrap_or_default()
                .to_string();
            let card = match i % 10 {
                0 => return,
                1 => "pm_card_chargeDeclined",
                _ => "pm_card_visa",
            };
            let confirmed = stripe_core::payment_intent::ConfirmPaymentIntent::new(intent.as_str())
                .payment_method(card)
                .send(&stripe)
                .await;
            if card == "pm_card_visa" {
                if confirmed.is_ok() {
                    minute.lock().unwrap().paid += 1;
                    paid.lock().unwrap().push(intent);
                } else {
                    minute.lock().unwrap().failures += 1;
                }
            }
        }
    })
    .await;
}

/// Runs `task(1)`, `task(2)`, … at `rate` a second until `end`, each on a task of its own, at
/// most `MOST_IN_FLIGHT` at once: a tick that finds them all busy is counted as skipped, so
/// the load stays bounded if the server falls behind.
async fn at_rate<F, Fut>(rate: u64, end: Instant, minute: &Mutex<Minute>, mut task: F)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(tokio::sync::Semaphore::new(MOST_IN_FLIGHT));
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate.max(1) as u32);
    let mut i = 0usize;
    while Instant::now() < end {
        ticks.tick().await;
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            minute.lock().unwrap().skipped += 1;
            continue;
        };
        i += 1;
        let work = task(i);
        tokio::spawn(async move {
            work.await;
            drop(slot);
        });
    }
}
