-- The outbox no longer notifies: Postgres holds a lock across the whole database from a
-- notifying transaction's commit until it ends, so every payment that queued a receipt
-- committed in turn, one at a time (bench/RESULTS.md). The server that writes mail wakes its
-- own mail job, and the job looks for mail from elsewhere every few seconds (server/src/jobs.rs).
drop trigger outbound_email_notify on outbound_email;
drop function notify_outbound_email();
