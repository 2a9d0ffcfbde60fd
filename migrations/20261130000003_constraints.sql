-- What the code assumes about orders and grants, said by the database too, so that no code
-- path (or person with psql) can break it unnoticed.

-- An order's currency is a lowercase ISO code, as a product's is.
alter table customer_order
    add constraint customer_order_currency_check check (currency ~ '^[a-z]{3}$');

-- `paid_at` is set exactly when the order's money was received: paid, refunded in part or in
-- whole, or held for review.
update customer_order set paid_at = coalesce(paid_at, updated_at)
    where status in ('paid', 'partially_refunded', 'refunded', 'needs_review');
alter table customer_order
    add constraint customer_order_paid_at_check check (
        (paid_at is not null) = (status in ('paid', 'partially_refunded', 'refunded', 'needs_review'))
    );

-- A grant's email is unknown (null) rather than empty.
alter table entitlement alter column email drop not null;
update entitlement set email = null where email = '';
alter table entitlement add constraint entitlement_email_check check (email <> '');

-- Orders only move forward. The moves the code makes, and the only ones allowed:
create table order_status_move (
    from_status order_status not null,
    to_status order_status not null,
    primary key (from_status, to_status)
);
insert into order_status_move (from_status, to_status)
select f::order_status, t::order_status
from (values
    ('pending',   array['failed', 'processing', 'paid', 'partially_refunded', 'refunded', 'canceled', 'needs_review']),
    ('failed',    array['processing', 'paid', 'partially_refunded', 'refunded', 'canceled', 'needs_review']),
    ('processing', array['failed', 'paid', 'partially_refunded', 'refunded', 'canceled', 'needs_review']),
    -- A canceled intent's payment can still succeed late (e.g. a bank transfer).
    ('canceled',  array['paid', 'partially_refunded', 'refunded', 'needs_review']),
    ('paid',      array['partially_refunded', 'refunded']),
    ('partially_refunded', array['refunded']),
    -- A person resolves a payment held for review: accepts it or refunds it.
    ('needs_review', array['paid', 'partially_refunded', 'refunded'])
) as moves (f, targets), unnest(targets) as t;

create function refuse_backward_order_move() returns trigger
language plpgsql as $$
begin
    if new.status <> old.status and not exists (
        select 1 from order_status_move where from_status = old.status and to_status = new.status
    ) then
        raise exception 'order % may not move from % to %', old.public_id, old.status, new.status
            using errcode = 'check_violation';
    end if;
    return new;
end
$$;

create trigger customer_order_status_moves_forward
    before update of status on customer_order
    for each row execute function refuse_backward_order_move();

-- Nothing looks orders up by email yet (the accounts work adds what it needs).
drop index customer_order_email_idx;
