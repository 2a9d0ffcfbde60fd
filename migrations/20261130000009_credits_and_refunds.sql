-- Free products, credits, and refunds a shopper asks for.

-- A product priced 0 is free: a signed-in shopper adds it to their library without paying. A
-- credit pack is never free (that would be a tap of credits).
alter table product drop constraint product_price_positive;
alter table product add constraint product_price_range
    check (price_minor >= 0 and price_minor <= 99999999);
alter table product add constraint product_free_kind_check
    check (price_minor > 0 or kind <> 'credits');

-- How many credits a pack adds (credit packs only), and what a product costs in credits when
-- it may be unlocked with them (never a pack: credits do not buy credits).
alter table product
    add column credits bigint,
    add column price_credits bigint
        constraint product_price_credits_check
            check (price_credits is null or (price_credits > 0 and kind <> 'credits' and price_minor > 0));
-- Packs made before packs had a size get the first number in their title ("1,000 API
-- credits"), or 100 without one; a seller should check them. Orders of them made before now
-- keep no size (see `pack_credits` below): they are not in the ledger.
update product
set credits = greatest(coalesce(substring(replace(title, ',', '') from '[0-9]{1,9}')::bigint, 100), 1)
where kind = 'credits';
alter table product add constraint product_credits_check
    check ((kind = 'credits') = (credits is not null) and coalesce(credits > 0, true));

-- An order is how a shopper came to own something: a payment through Stripe, a free product
-- added to the library, or a product unlocked with credits. The last two carry no money (their
-- amount is 0 in the product's currency) and are settled at once, never through Stripe.
alter table customer_order drop constraint customer_order_amount_positive;
alter table customer_order
    add column credits_spent bigint
        constraint customer_order_credits_spent_check check (credits_spent > 0);
alter table customer_order add constraint customer_order_amount_check check (
    case when credits_spent is not null or amount_minor = 0
         then amount_minor = 0 and payment_intent_id is null
         else amount_minor > 0 end
);

-- The credits a pack order adds, copied from the product when the order is made (as its
-- price is), so a later change of the pack never changes what an earlier order gave.
alter table customer_order
    add column pack_credits bigint constraint customer_order_pack_credits_check check (pack_credits > 0);

-- The credit ledger: a balance is the sum of its entries, never a stored counter, and entries
-- are only ever added. `key` makes each entry happen once however often its cause is replayed:
-- `pack:<order>` for a paid pack; `spend:<user>:<form key>` for an unlock (a double click
-- posts the same key); `request:<refund request>` for credits taken back when a shopper asks
-- for a refund, and `restore:<refund request>` when Stripe refused it; `refund:<order>:<refunded
-- total>` for a pack's share taken back when Stripe reports a refund; `dispute:<order>` for
-- what is left of a pack whose dispute was lost.
create table credit_entry (
    id bigint generated always as identity primary key,
    user_id bigint not null constraint credit_entry_user_fkey references app_user (id),
    delta bigint not null,
    reason text not null constraint credit_entry_reason_check
        check (reason in ('pack', 'spend', 'refund', 'restore', 'dispute')),
    -- The order the entry is about: the pack bought or refunded, or the unlock it paid for.
    order_id bigint not null constraint credit_entry_order_fkey references customer_order (id),
    key text not null constraint credit_entry_key unique,
    created_at timestamptz not null default now(),
    -- Packs and restores add; spends and what refunds and disputes take back subtract.
    constraint credit_entry_delta_check
        check (case when reason in ('pack', 'restore') then delta > 0 else delta < 0 end)
);
create index credit_entry_user_idx on credit_entry (user_id);
create index credit_entry_order_idx on credit_entry (order_id);

-- A refund a shopper asked for from their account. It is written (with the credits it takes
-- back) before Stripe is asked, so a refund whose answer was lost is retried with the same
-- idempotency key rather than forgotten or made twice.
create type refund_request_status as enum ('pending', 'succeeded', 'failed');
create table refund_request (
    id bigint generated always as identity primary key,
    order_id bigint not null constraint refund_request_order_fkey references customer_order (id),
    amount_minor bigint not null constraint refund_request_amount_check check (amount_minor > 0),
    -- Credits of a pack taken back with this refund (0 for anything else).
    credits bigint not null default 0 constraint refund_request_credits_check check (credits >= 0),
    status refund_request_status not null default 'pending',
    stripe_refund_id text,
    -- Attempts at asking Stripe; each after the first has an idempotency key of its own.
    attempts integer not null default 0,
    -- While set and in the future, one process is asking Stripe for this request: no other
    -- (a second click, the housekeeping job) asks at the same time.
    in_flight_until timestamptz,
    last_error text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
-- One refund in flight per order: a second click while one is pending finds it.
create unique index refund_request_pending_key on refund_request (order_id) where status = 'pending';
