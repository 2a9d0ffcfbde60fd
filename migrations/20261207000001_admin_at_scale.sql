-- What a shop with many orders, events and accounts felt on each view: measured at 200,000
-- orders (bench/RESULTS.md), the orders list took 138 ms (every order read and sorted for 50
-- rows), the overview 94 ms (every order read to sum 30 days), and sign-up, a reset request
-- and the refund look-ups scanned their whole tables. Each query gets the index it walks.
-- Built in the migration's transaction, as customer_order_product_idx was, for the same reason.
--
-- The payment path writes customer_order, stripe_event, entitlement and outbound_email, so an
-- index there costs every payment: the ones below either hold every order once (the list),
-- replace an index (by product), or have a predicate a card payment's row does not match.
-- None is keyed on updated_at, which most order updates change: an index on it would stop
-- those updates from being made in place (HOT).

-- The orders list, newest first, and its date filters.
create index customer_order_created_idx on customer_order (created_at desc, id desc);

-- The list narrowed to one product, newest first; also "has this product orders" (the key's
-- first column), which the previous index on product_id alone answered.
create index customer_order_product_created_idx
    on customer_order (product_id, created_at desc, id desc);
drop index customer_order_product_idx;

-- The list narrowed to a status most orders never reach.
create index customer_order_rare_status_idx on customer_order (status, created_at desc, id desc)
    where status in ('processing', 'partially_refunded', 'refunded', 'needs_review');

-- The overview's sales of the last 30 days, by the day each order was paid.
create index customer_order_paid_idx on customer_order (paid_at) where paid_at is not null;

-- Sign-up and a reset request close a user's earlier links; tokens are kept, so without this
-- each one read every token ever made.
create index user_token_user_idx on user_token (user_id);

-- A refund's "was this already refunded" and the admin's order page read an order's refunds.
create index refund_request_order_idx on refund_request (order_id);
