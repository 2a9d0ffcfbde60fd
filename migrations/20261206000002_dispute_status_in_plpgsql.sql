-- The same answer as before, from a PL/pgSQL function instead of a SQL one. A SQL function
-- that cannot be inlined (this one aggregates) has its body parsed and planned anew for every
-- statement that calls it: in the webhook's order lock that was an eighth of Postgres's time
-- per event (bench/RESULTS.md). PL/pgSQL keeps its plan for the life of the connection.
create or replace function order_dispute_status(order_id bigint) returns dispute_status
language plpgsql stable as $$
begin
    return (
        select case when bool_or(d.status = 'lost') then 'lost'::dispute_status
                    when bool_or(d.status = 'open') then 'open'::dispute_status
                    else 'won'::dispute_status end
        from dispute d where d.order_id = order_dispute_status.order_id
        having count(*) > 0
    );
end
$$;
