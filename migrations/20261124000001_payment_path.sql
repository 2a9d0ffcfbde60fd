-- The payment path: products, orders, what a paid order grants, and the Stripe event inbox.

create table product (
    id bigint generated always as identity primary key,
    -- The URL name; unique so a link always means one product.
    slug text not null constraint product_slug_key unique,
    title text not null,
    description text not null,
    -- What a purchase gives: a file to download, a pack of credits, or a membership.
    kind text not null constraint product_kind_check check (kind in ('download', 'credits', 'membership')),
    -- Money is integer minor units plus an ISO code (cents; whole yen for jpy).
    price_minor bigint not null constraint product_price_positive check (price_minor > 0 and price_minor <= 99999999),
    currency text not null constraint product_currency_check check (currency ~ '^[a-z]{3}$'),
    published boolean not null default true,
    created_at timestamptz not null default now()
);

-- Payments only move an order forward; the code enforces the order of these states.
create type order_status as enum (
    'pending', 'failed', 'processing', 'paid', 'partially_refunded', 'refunded', 'canceled'
);

create table customer_order (
    id bigint generated always as identity primary key,
    -- The only id a shopper ever sees: random, so order pages cannot be found by counting.
    public_id text not null constraint customer_order_public_id_key unique,
    product_id bigint not null constraint customer_order_product_fkey references product (id),
    -- Set when the shopper types it, before the payment is confirmed.
    email text,
    -- The price at the moment the order was made, copied so a later price change never
    -- changes what this order charges.
    amount_minor bigint not null constraint customer_order_amount_positive check (amount_minor > 0),
    currency text not null,
    status order_status not null default 'pending',
    payment_intent_id text constraint customer_order_payment_intent_key unique,
    -- Kept so that opening the form again for this order reuses its PaymentIntent.
    client_secret text,
    -- The last payment error, in words a shopper can read (Stripe's own message).
    failure_message text,
    amount_refunded_minor bigint not null default 0
        constraint customer_order_refund_bounds check (amount_refunded_minor >= 0 and amount_refunded_minor <= amount_minor),
    paid_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create index customer_order_email_idx on customer_order (email);

-- What a paid order gives its buyer. One per order: fulfilment can run many times and
-- grants once.
create table entitlement (
    id bigint generated always as identity primary key,
    order_id bigint not null constraint entitlement_order_key unique
        constraint entitlement_order_fkey references customer_order (id),
    product_id bigint not null constraint entitlement_product_fkey references product (id),
    email text not null,
    granted_at timestamptz not null default now(),
    -- Set by a full refund; the row stays as history.
    revoked_at timestamptz
);

-- Every verified Stripe event, stored before it is handled. `handled_at` is set in the same
-- transaction as the fulfilment it caused, so an event is acted on exactly once.
create table stripe_event (
    id text primary key,
    type text not null,
    payload jsonb not null,
    received_at timestamptz not null default now(),
    handled_at timestamptz,
    attempts integer not null default 0,
    last_error text
);

create index stripe_event_unhandled_idx on stripe_event (received_at) where handled_at is null;
