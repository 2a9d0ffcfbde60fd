//! The wake-up of this server's mail job. Mail is written to the outbox (`outbound_email`) in
//! the transaction that makes it due, and whoever commits such a transaction here rings the
//! bell, so the mail job looks at once. Mail written by another process (an operator command,
//! another server) is found by the job's own look every few seconds.
//!
//! A Postgres `NOTIFY` from the outbox's insert trigger did this job before, across servers,
//! but each notifying transaction holds a database-wide lock through its commit, so payments
//! settled one commit at a time (bench/RESULTS.md, issue 13).

use std::sync::Arc;

use tokio::sync::Notify;

/// Cloned into every part of the server that writes mail; all clones ring the same bell.
#[derive(Clone, Default)]
pub struct NewMail(Arc<Notify>);

impl NewMail {
    /// Says that a transaction which wrote mail has committed. A ring while the mail job is
    /// busy is kept, so it looks once more when it is done.
    pub fn written(&self) {
        self.0.notify_one();
    }

    /// Waits for the next ring (or returns at once for one kept from before).
    pub async fn rung(&self) {
        self.0.notified().await;
    }
}
