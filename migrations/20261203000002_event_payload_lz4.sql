-- An event's payload (a few kilobytes of JSON) is compressed when it is stored; lz4 does that
-- several times faster than Postgres's default (pglz), on the path every webhook takes.
alter table stripe_event alter column payload set compression lz4;
