-- Orders by product: whether a product has orders (its kind and currency are then fixed, and
-- the admin's form says so) is asked on every save and every view of its form, and was a scan
-- of every order. Built in the migration's transaction, so checkouts wait for it (a fraction of
-- a second for a shop's order count): `concurrently` would have to run outside one, and it
-- waits for every older snapshot in the database, among them a second server's, itself waiting
-- on the migrations' lock that this server holds.
create index customer_order_product_idx on customer_order (product_id);
