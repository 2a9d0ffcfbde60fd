-- Browser sessions (tower-sessions' Postgres store reads and writes this table; its layout is
-- the store's own). Created here rather than by the store at every start, so the schema has
-- one owner and servers starting together never race to create it.
create schema if not exists tower_sessions;

create table tower_sessions.session (
    id text primary key not null,
    data bytea not null,
    expiry_date timestamptz not null
);

-- The hourly clean-up deletes by expiry.
create index session_expiry_idx on tower_sessions.session (expiry_date);
