-- A payment that took money but not the order's amount or currency: neither paid (nothing is
-- granted) nor failed (the money is real) until a person looks at it. Never reopened for
-- checkout.
alter type order_status add value 'needs_review';

-- Each attempt at creating an order's PaymentIntent has an idempotency key of its own. Stripe
-- keeps a 5xx under its key for a day, so after one the next attempt moves to the next key.
alter table customer_order
    add column intent_attempt integer not null default 0
        constraint customer_order_intent_attempt_check check (intent_attempt >= 0);
