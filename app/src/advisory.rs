//! Postgres advisory locks held for a piece of background work, so that several servers (and
//! the command line) never do it at the same time.
//!
//! A session-level advisory lock belongs to the connection that took it, and the connection
//! goes back to the pool when the work ends. If the work is cancelled midway (its task timed
//! out, its server is shutting down), a pooled connection would go back still holding the
//! lock, and every later run would find the work "under way" for as long as that connection
//! lives. So the guard closes its connection when it is dropped without being released:
//! closing the session is what releases its locks.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::pool::PoolConnection;
use sqlx::postgres::Postgres;

/// A held advisory lock. Release it with [`Held::release`]; dropped unreleased, its connection
/// is closed.
pub struct Held {
    key: i64,
    conn: Option<PoolConnection<Postgres>>,
}

/// Takes lock `key` if no other session holds it.
pub async fn try_lock(pool: &PgPool, key: i64) -> Result<Option<Held>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let held: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(&mut *conn)
        .await?;
    Ok(held.then_some(Held {
        key,
        conn: Some(conn),
    }))
}

/// Takes lock `key`, waiting up to `wait` for another session to let it go.
pub async fn lock_within(
    pool: &PgPool,
    key: i64,
    wait: Duration,
) -> Result<Option<Held>, sqlx::Error> {
    let started = std::time::Instant::now();
    loop {
        if let Some(held) = try_lock(pool, key).await? {
            return Ok(Some(held));
        }
        if started.elapsed() >= wait {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Held {
    /// Lets the lock go and returns the connection to the pool.
    pub async fn release(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let released = sqlx::query("select pg_advisory_unlock($1)")
                .bind(self.key)
                .execute(&mut *conn)
                .await;
            if released.is_err() {
                drop(conn.detach());
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Not released: the work was cancelled. Closing the session frees its locks.
            drop(conn.detach());
        }
    }
}
