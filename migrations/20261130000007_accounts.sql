-- Accounts: a shopper signs up with an email and a password, verifies the email by a link,
-- and may reset a forgotten password by a link. Guest orders join the account of whoever
-- verifies their email.

create table app_user (
    id bigint generated always as identity primary key,
    -- Stored lower-cased, so one address is one account however it is typed.
    email text not null constraint app_user_email_check check (email = lower(email) and email <> ''),
    -- argon2id, in the PHC string format; never the password itself.
    password_hash text not null,
    email_verified_at timestamptz,
    created_at timestamptz not null default now()
);
create unique index app_user_email_key on app_user (email);

-- One-time links. Only a SHA-256 of the token is kept; the token itself goes out in the mail.
create table user_token (
    id bigint generated always as identity primary key,
    user_id bigint not null constraint user_token_user_fkey references app_user (id),
    purpose text not null constraint user_token_purpose_check check (purpose in ('verify_email', 'reset_password')),
    token_hash bytea not null constraint user_token_hash_key unique,
    expires_at timestamptz not null,
    used_at timestamptz,
    created_at timestamptz not null default now()
);

-- Whose order it is, once known: set when a signed-in shopper buys, or when a guest order's
-- email is verified by an account.
alter table customer_order
    add column user_id bigint constraint customer_order_user_fkey references app_user (id);
create index customer_order_user_idx on customer_order (user_id, created_at desc)
    where user_id is not null;
-- Guest orders are claimed by email.
create index customer_order_guest_email_idx on customer_order (lower(email))
    where user_id is null and email is not null;

-- Mail about an account (a verification or reset link, or "you already have an account")
-- goes through the same outbox as mail about orders. The link's token is kept only until the
-- message is sent.
alter table outbound_email drop constraint outbound_email_kind_check;
alter table outbound_email add constraint outbound_email_kind_check
    check (kind in ('receipt', 'refund', 'verify_email', 'reset_password', 'account_exists'));
alter table outbound_email alter column order_id drop not null;
alter table outbound_email
    add column user_id bigint constraint outbound_email_user_fkey references app_user (id),
    add column token text;
alter table outbound_email add constraint outbound_email_subject_check
    check (case when kind in ('receipt', 'refund') then order_id is not null
                else user_id is not null end);
