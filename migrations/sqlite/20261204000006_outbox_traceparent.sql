-- The W3C trace context of the change that wrote an event (see the PostgreSQL migration).
alter table outbox add column traceparent text;
