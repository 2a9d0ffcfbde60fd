-- no-transaction
-- Orders by product: whether a product has orders (its kind and currency are then fixed, and
-- the admin's form says so) is asked on every save and every view of its form, and was a scan
-- of every order. Built without blocking checkouts, so outside a transaction.
create index concurrently if not exists customer_order_product_idx on customer_order (product_id);
