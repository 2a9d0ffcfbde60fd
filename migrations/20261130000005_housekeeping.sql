-- Housekeeping: open orders expire, and what is kept only for a while is removed.

-- The expiry sweep reads the oldest open orders.
create index customer_order_open_idx on customer_order (created_at)
    where status in ('pending', 'failed');

-- Client secrets of closed orders are forgotten after the retention period.
create index customer_order_client_secret_idx on customer_order (created_at)
    where client_secret is not null;

-- A handled event's raw payload is removed after the retention period; its id stays, so a
-- late duplicate delivery is still recognised. An unhandled event always keeps its payload.
alter table stripe_event alter column payload drop not null;
-- Added without checking old rows under the table's lock, then validated with writes allowed.
alter table stripe_event add constraint stripe_event_payload_kept_until_handled
    check (payload is not null or handled_at is not null) not valid;
alter table stripe_event validate constraint stripe_event_payload_kept_until_handled;
create index stripe_event_handled_idx on stripe_event (received_at)
    where payload is not null and handled_at is not null;
