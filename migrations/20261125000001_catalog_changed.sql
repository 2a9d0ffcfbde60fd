-- Servers keep the published catalog in memory; this tells them when to drop that copy.
-- One notification per statement is enough: a listener rereads the whole catalog.

create function notify_catalog_changed() returns trigger
language plpgsql as $$
begin
    perform pg_notify('catalog_changed', '');
    return null;
end
$$;

create trigger product_catalog_changed
    after insert or update or delete or truncate on product
    for each statement execute function notify_catalog_changed();
