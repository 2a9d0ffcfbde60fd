-- An event's payload is kept as the text Stripe signed (`json`) rather than parsed into `jsonb`:
-- the shop reads it back only as text, to parse it itself, and building the `jsonb` was a
-- twentieth of Postgres's time per webhook (bench/RESULTS.md). `json` still refuses text that
-- is not JSON.
alter table stripe_event alter column payload type json using payload::json;
alter table stripe_event alter column payload set compression lz4;
