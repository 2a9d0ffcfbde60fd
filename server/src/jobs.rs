//! Background work on a job queue in Postgres (underway): a housekeeping job that reconciles
//! with Stripe (unhandled events, open orders, events whose webhook never came), expires open
//! orders, forgets data past its retention, sends refunds again and mirrors the catalog to
//! Stripe, and a mail job that sends what the outbox holds.
//!
//! Why underway: it keeps its queue in the shop's own Postgres (schema `underway`, migrated
//! at start) on the same sqlx as the rest of the shop, retries failed runs, and lets only one
//! server at a time run a queue's schedule (a Postgres advisory lock), so with several servers
//! each scheduled run is queued once and taken by one worker. Each server's worker runs one
//! job at a time; the runs queued at two servers' starts may overlap, which is safe because
//! every chore is idempotent (keyed Stripe calls, row locks, conditional updates).

use std::time::Duration;

use app::housekeeping;
use app::state::AppState;
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use underway::{Job, To, ZonedSchedule};

use crate::mail::{self, Mailer};

/// A run of the housekeeping job. Its name says why it was queued, for the logs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Housekeeping {
    pub reason: String,
}

/// What the job needs besides the shop's state.
#[derive(Clone)]
pub struct Chores {
    pub state: AppState,
    pub order_ttl: Duration,
    pub retention: Duration,
}

/// How often the schedule queues a run: every five minutes, in UTC.
const SCHEDULE: &str = "0 */5 * * * *";
/// An event or an open order younger than this is probably being handled by its delivery, or
/// paid by its shopper, right now: reconciliation leaves it to them.
const RECONCILE_GRACE: Duration = Duration::from_secs(120);
/// How long a server that does not hold the schedule waits before asking for it again, so
/// the schedule moves to another server when its holder stops.
const SCHEDULER_RETRY: Duration = Duration::from_secs(60);

/// The advisory lock a housekeeping run holds, so runs never overlap across servers.
const RUN_LOCK: i64 = 0x5346_484b; // "SFHK"

/// Runs every chore once, in the order that loses the least: reconciliation first (stored and
/// missed events, and what Stripe says of open orders, may pay orders), then expiry (which would otherwise cancel an order a stored event pays), then
/// retention. A run that finds another one under way (another server, or the command line)
/// does nothing: the one under way does the same work.
pub async fn run_chores(chores: &Chores) -> anyhow::Result<()> {
    let Some(lock) = app::advisory::try_lock(&chores.state.pool, RUN_LOCK).await? else {
        tracing::debug!("another housekeeping run is under way");
        return Ok(());
    };
    let outcome = chores_once(chores).await;
    lock.release().await;
    outcome
}

/// Each chore runs whatever the others did: one that fails (a database hiccup in the replay,
/// say) must not hold back refunds shoppers are waiting for. The run fails with the first
/// error, so the queue retries it.
async fn chores_once(chores: &Chores) -> anyhow::Result<()> {
    let state = &chores.state;
    let results = [
        app::reconcile::run(state, RECONCILE_GRACE)
            .await
            .map(drop)
            .map_err(anyhow::Error::from),
        housekeeping::expire_orders(&state.pool, &state.stripe, chores.order_ttl)
            .await
            .map(drop)
            .map_err(anyhow::Error::from),
        housekeeping::forget_old(&state.pool, chores.retention)
            .await
            .map(drop)
            .map_err(anyhow::Error::from),
        app::refunds::send_pending(&state.pool, &state.stripe)
            .await
            .map(drop)
            .map_err(anyhow::Error::from),
        app::catalog::stripe_sync::sync_pending(&state.pool, &state.stripe)
            .await
            .map(drop)
            .map_err(anyhow::Error::from),
    ];
    results
        .into_iter()
        .collect::<anyhow::Result<Vec<()>>>()
        .map(drop)
}

/// This server's background workers. They stop with the server: each takes no new run and
/// finishes the one under way, so mail being sent at a deploy is marked sent, not cut off
/// after the send and sent again by the next run.
pub struct Workers {
    stop: CancellationToken,
    running: JoinSet<()>,
}

impl Workers {
    /// Tells every worker to stop, and waits until the runs under way have finished (a mail run
    /// stops after the message it is sending). The schedule, if this server holds it, is given
    /// up too, without waiting.
    pub async fn stop(mut self) {
        self.stop.cancel();
        while self.running.join_next().await.is_some() {}
    }
}

/// Migrates the queue's tables, queues one run now (the sweep on start), sets the schedule,
/// and starts this server's workers, its bid for the schedule, and the removal of old tasks.
///
/// The queue has a small pool of its own: its worker and scheduler keep connections (two
/// listeners, the schedule's lock, the open transaction of a running task), and those must
/// never be the ones a shopper's request waits for. The chores themselves use the shop's pool.
pub async fn start(
    chores: Chores,
    database_url: &str,
    mailer: Option<Mailer>,
) -> anyhow::Result<Workers> {
    let mut workers = Workers {
        stop: CancellationToken::new(),
        running: JoinSet::new(),
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(10))
        .connect(database_url)
        .await?;
    underway::run_migrations(&pool).await?;
    let shop_pool = chores.state.pool.clone();
    let new_mail = chores.state.new_mail.clone();
    let job = Job::builder()
        .state(chores)
        .step(|cx, run: Housekeeping| async move {
            tracing::debug!(reason = %run.reason, "housekeeping");
            run_chores(&cx.state)
                .await
                .map_err(|e| underway::task::Error::Retryable(format!("{e:#}")))?;
            To::done()
        })
        .name("housekeeping")
        .pool(pool.clone())
        .build()
        .await?;
    let schedule: ZonedSchedule = format!("{SCHEDULE}[UTC]").parse()?;
    job.schedule(
        &schedule,
        &Housekeeping {
            reason: "schedule".into(),
        },
    )
    .await?;
    job.enqueue(&Housekeeping {
        reason: "start".into(),
    })
    .await?;

    match mailer {
        Some(mailer) => start_mail(shop_pool, pool.clone(), mailer, new_mail, &mut workers).await?,
        None => tracing::warn!("SMTP_URL is not set: receipts and notices wait in the outbox"),
    }
    let deletion_pool = pool.clone();
    tokio::spawn(async move {
        // Finished tasks are kept for their time to live (days) and then removed, hourly.
        if let Err(e) = underway::queue::run_deletion(&deletion_pool).await {
            tracing::error!(error = %e, "the removal of old background tasks stopped");
        }
    });
    work_on(&job, "housekeeping", &mut workers);
    bid_for_schedule(&job, "housekeeping", workers.stop.clone());
    Ok(workers)
}

/// Starts this server's worker for `job`: one run at a time, until `workers` stop.
fn work_on<I, S>(job: &Job<I, S>, name: &'static str, workers: &mut Workers)
where
    I: Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
    S: Clone + Send + Sync + 'static,
{
    let mut worker = job.worker();
    worker.set_concurrency_limit(1);
    worker.set_shutdown_token(workers.stop.clone());
    workers.running.spawn(async move {
        if let Err(e) = worker.run().await {
            tracing::error!(error = %e, job = name, "a background worker stopped");
        }
    });
}

/// Starts this server's bid for `job`'s schedule: the scheduler returns at once unless this
/// server holds the schedule's lock, in which case it queues runs until `stop`; asking again
/// every minute moves the schedule to another server when its holder stops.
fn bid_for_schedule<I, S>(job: &Job<I, S>, name: &'static str, stop: CancellationToken)
where
    I: Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
    S: Clone + Send + Sync + 'static,
{
    let mut scheduler = job.scheduler();
    scheduler.set_shutdown_token(stop.clone());
    tokio::spawn(async move {
        while !stop.is_cancelled() {
            if let Err(e) = scheduler.run().await {
                tracing::warn!(error = %e, job = name, "a background schedule stopped; asking again");
            }
            tokio::select! {
                () = tokio::time::sleep(SCHEDULER_RETRY) => {}
                () = stop.cancelled() => {}
            }
        }
    });
}

/// How long the mail job's waker gathers rings into one run.
const MAIL_BURST: Duration = Duration::from_millis(50);
/// How often the waker looks for mail no ring told it of: written by another process (an
/// operator command, another server), or due again after a failed send.
const MAIL_LOOK: Duration = Duration::from_secs(2);

/// A run of the mail job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendMail {
    pub reason: String,
}

/// The mail job: queued when this server commits mail (`NewMail` rings), when a look every
/// `MAIL_LOOK` finds mail due, and at start. Runs on several servers at once
/// split the outbox between them.
async fn start_mail(
    shop: sqlx::PgPool,
    queue: sqlx::PgPool,
    mailer: Mailer,
    new_mail: app::outbox::NewMail,
    workers: &mut Workers,
) -> anyhow::Result<()> {
    let job = Job::builder()
        .state((shop.clone(), mailer, workers.stop.clone()))
        .step(|cx, _run: SendMail| async move {
            let (pool, mailer, stop) = &cx.state;
            // A stop ends a long run (a sale's receipts) after the message being sent.
            mail::send_due_until(pool, mailer, stop)
                .await
                .map_err(|e| underway::task::Error::Retryable(e.to_string()))?;
            To::done()
        })
        .name("mail")
        .pool(queue)
        .build()
        .await?;
    // The look below finds whatever a schedule would (mail due again after a failed send, mail
    // written elsewhere) within seconds, so the minute's schedule of earlier versions goes.
    job.unschedule().await?;
    job.enqueue(&SendMail {
        reason: "start".into(),
    })
    .await?;

    let waker = job.clone();
    tokio::spawn(async move {
        let mut look = tokio::time::interval(MAIL_LOOK);
        look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let reason = tokio::select! {
                () = new_mail.rung() => {
                    // One run for a burst of mail (a sale's receipts): rings within the pause
                    // are taken by the same run, and a later one queues another.
                    tokio::time::sleep(MAIL_BURST).await;
                    "new mail"
                }
                _ = look.tick() => match mail::any_due(&shop).await {
                    Ok(true) => "mail due",
                    Ok(false) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not look for due mail");
                        continue;
                    }
                },
            };
            // Whatever woke it, the next look is a full pause away.
            look.reset();
            if let Err(e) = waker
                .enqueue(&SendMail {
                    reason: reason.into(),
                })
                .await
            {
                tracing::warn!(error = %e, "could not queue a mail run; the schedule will");
            }
        }
    });
    work_on(&job, "mail", workers);
    Ok(())
}
