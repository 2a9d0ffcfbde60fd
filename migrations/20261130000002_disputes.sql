-- Disputes (chargebacks and inquiries) of orders' payments, one row per Stripe dispute: an
-- order may see more than one (an inquiry, then a chargeback). A decided dispute never reopens.
-- While any dispute of an order is open, what the order granted is suspended; if any is lost,
-- it is revoked for good.
create type dispute_status as enum ('open', 'won', 'lost');

create table dispute (
    id text primary key,
    order_id bigint not null constraint dispute_order_fkey references customer_order (id),
    status dispute_status not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create index dispute_order_idx on dispute (order_id);

-- Set while the order's payment is under dispute; the row stays granted.
alter table entitlement add column suspended_at timestamptz;

-- Where an order's disputes leave it: lost if any was lost, open while any is open, won when
-- all were won, null when it has none.
create function order_dispute_status(order_id bigint) returns dispute_status
language sql stable as $$
    select case when bool_or(status = 'lost') then 'lost'::dispute_status
                when bool_or(status = 'open') then 'open'::dispute_status
                else 'won'::dispute_status end
    from dispute where dispute.order_id = order_dispute_status.order_id
    having count(*) > 0
$$;
