-- A product's page says what its file is (format and size), so a new or replaced file must
-- drop the servers' copy of the catalog as a change to the product itself does.
create trigger product_file_catalog_changed
    after insert or update or delete or truncate on product_file
    for each statement execute function notify_catalog_changed();

-- How long a membership lasts, as its page tells the buyer; empty for one without an end.
alter table product
    add column membership_days integer
        constraint product_membership_days_check check (membership_days between 1 and 3660),
    add constraint product_membership_days_kind_check
        check (membership_days is null or kind = 'membership');
