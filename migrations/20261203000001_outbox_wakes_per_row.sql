-- The outbox wakes the mail job only when a message is written. As a statement trigger it also
-- fired for inserts that wrote nothing (a settlement's receipt that was already queued, or a
-- statement whose insert is conditional), and each notifying transaction commits in turn.
drop trigger outbound_email_notify on outbound_email;

create trigger outbound_email_notify
    after insert on outbound_email
    for each row execute function notify_outbound_email();
