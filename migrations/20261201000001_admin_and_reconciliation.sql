-- The seller's side: staff accounts, and what reconciliation with Stripe remembers.

-- An admin is an account that may use /admin. The first one is made on the command line
-- (`server admin create-user`); there is no way to become one from the web.
alter table app_user add column is_admin boolean not null default false;

-- When reconciliation last asked Stripe about an open order, so each run asks about the ones
-- it has waited longest for first and one order Stripe keeps failing on never blocks the rest.
alter table customer_order add column stripe_checked_at timestamptz;
create index customer_order_reconcile_idx on customer_order (stripe_checked_at nulls first, id)
    where status in ('pending', 'failed', 'processing') and payment_intent_id is not null;

-- How an event reached the inbox: delivered to the webhook, or found in Stripe's events list by
-- reconciliation because its delivery never came.
alter table stripe_event add column source text not null default 'webhook'
    constraint stripe_event_source_check check (source in ('webhook', 'events_list'));
-- When Stripe created the event (its `created`), for the admin's inbox; null for events stored
-- before this was kept.
alter table stripe_event add column created_at timestamptz;
create index stripe_event_received_idx on stripe_event (received_at desc);
-- The PaymentIntent an event is about (an intent's own, or a charge's or dispute's), so an
-- order's page in the admin lists its events.
alter table stripe_event add column payment_intent_id text;
update stripe_event
set payment_intent_id = case when payload #>> '{data,object,object}' = 'payment_intent'
                             then payload #>> '{data,object,id}'
                             else payload #>> '{data,object,payment_intent}' end
where payload is not null;
create index stripe_event_payment_intent_idx on stripe_event (payment_intent_id)
    where payment_intent_id is not null;

-- How far reconciliation has read Stripe's events list: the `created` time of the newest event
-- it has seen. One row; the next run reads from a little before it, since events created in the
-- same second may arrive in the list out of order.
create table reconcile_cursor (
    id boolean primary key default true constraint reconcile_cursor_single check (id),
    events_seen_until timestamptz not null,
    updated_at timestamptz not null default now()
);

-- Refunds an admin makes from /admin/orders go through the same requests as a shopper's. The
-- admin's form carries a one-time key, so posting it twice (a double click, a reload) finds the
-- first request instead of refunding again; and the admin may take the product out of the
-- buyer's library with a partial refund (a full one always does).
alter table refund_request
    add column requested_by bigint constraint refund_request_requested_by_fkey references app_user (id),
    add column form_key text constraint refund_request_form_key_key unique,
    add column revoke boolean not null default false;
