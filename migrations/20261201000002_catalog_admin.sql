-- Sellers manage the catalog from /admin/products, and Stripe mirrors it as Products and Prices.

-- Archived products leave the catalog and the admin's list for good (orders keep them); a
-- published product cannot be archived without first being unpublished.
alter table product
    add column archived_at timestamptz,
    add column updated_at timestamptz not null default now(),
    -- Every edit bumps it; Stripe is in step when `stripe_synced_version` has caught up.
    add column version integer not null default 1,
    -- The preview image, resized once at upload, in the storage under its SHA-256.
    add column preview_key text constraint product_preview_key_check
        check (preview_key ~ '^sha256/[0-9a-f]{64}$');
alter table product add constraint product_archived_unpublished
    check (archived_at is null or not published);

-- This installation's name at Stripe. A Stripe account may serve more than one database (a
-- test account shared by a laptop and CI, a staging copy): products and idempotency keys carry
-- it, so one never overwrites another's.
create table shop_install (
    id boolean primary key default true constraint shop_install_single check (id),
    stripe_prefix text not null constraint shop_install_prefix_check check (stripe_prefix ~ '^[a-z0-9]{8}$')
);
insert into shop_install (stripe_prefix) values (substr(md5(random()::text || clock_timestamp()::text), 1, 8));

-- What Stripe has of it: its Product (`sf_<prefix>_<id>`, so a retry years later finds the same
-- one), the Price for its current amount, the version they match, and the last failure.
alter table product
    add column stripe_product_id text,
    add column stripe_price_id text,
    add column stripe_price_minor bigint,
    add column stripe_price_currency text,
    add column stripe_synced_version integer not null default 0,
    add column stripe_sync_error text,
    -- Failed attempts at this version: each attempt's writes carry keys of their own, since
    -- Stripe keeps a 5xx under its key (every write here is idempotent without the key).
    add column stripe_sync_attempts integer not null default 0,
    add column stripe_synced_at timestamptz;
create index product_unsynced_idx on product (id) where stripe_synced_version < version;
