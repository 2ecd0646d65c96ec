-- The W3C trace context of the change that wrote an event: the relay hands it on with the
-- event (Dapr's cloudevent.traceparent, or the CloudEvent written to Kafka), so the
-- consumers continue the same trace. Null for rows written before, or outside a trace.
alter table outbox add column traceparent text;
