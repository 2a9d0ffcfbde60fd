-- The file a download product delivers. The bytes live in the storage (`files.rs`: the local
-- filesystem by default) under their SHA-256, never in a directory the web server serves.
create table product_file (
    product_id bigint primary key constraint product_file_product_fkey references product (id),
    -- Where the bytes are in the storage: `sha256/<hex>`.
    object_key text not null constraint product_file_key_check check (object_key ~ '^sha256/[0-9a-f]{64}$'),
    -- The name the buyer's browser saves it as.
    filename text not null constraint product_file_name_check
        check (filename <> '' and filename !~ '[/\\"[:cntrl:]]' and length(filename) <= 200),
    content_type text not null,
    size_bytes bigint not null constraint product_file_size_check check (size_bytes > 0)
);
