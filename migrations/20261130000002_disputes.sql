-- A dispute (chargeback) of an order's payment. While it is open, what the order granted is
-- suspended; won restores it; lost revokes it for good. A closed dispute never reopens.
create type dispute_status as enum ('open', 'won', 'lost');

alter table customer_order add column dispute_status dispute_status;

-- Set while the order's payment is under dispute; the row stays granted.
alter table entitlement add column suspended_at timestamptz;
