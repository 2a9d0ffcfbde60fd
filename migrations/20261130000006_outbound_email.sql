-- Mail the shop sends, written in the same transaction as what it tells of (a transactional
-- outbox) and sent afterwards by the mail job, so a mail server that is down delays mail and
-- loses none. One row per message: `dedupe_key` keeps a settlement that runs twice (a repeated
-- event, a replay) from writing a second one.
create table outbound_email (
    id bigint generated always as identity primary key,
    kind text not null constraint outbound_email_kind_check check (kind in ('receipt', 'refund')),
    order_id bigint not null constraint outbound_email_order_fkey references customer_order (id),
    dedupe_key text not null constraint outbound_email_dedupe_key unique,
    -- A refund notice reports the order's refunded total at the time.
    amount_minor bigint constraint outbound_email_amount_check check (amount_minor is null or amount_minor > 0),
    created_at timestamptz not null default now(),
    -- Failed sends wait longer each time.
    next_attempt_at timestamptz not null default now(),
    attempts integer not null default 0,
    last_error text,
    sent_at timestamptz,
    -- Why it was never sent (no address to send to).
    skipped_reason text
);

-- The mail job reads what is due, oldest first.
create index outbound_email_due_idx on outbound_email (next_attempt_at)
    where sent_at is null and skipped_reason is null;

-- A new message wakes the mail job at once instead of at its next scheduled run.
create function notify_outbound_email() returns trigger
language plpgsql as $$
begin
    perform pg_notify('outbound_email', '');
    return null;
end;
$$;

create trigger outbound_email_notify
    after insert on outbound_email
    for each statement execute function notify_outbound_email();
