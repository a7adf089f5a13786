-- 0005_outbox_trace_context: the W3C trace context of the request whose transaction wrote an
-- event, so the relay can send it on as the SQS message's `traceparent` and `tracestate`
-- attributes and one trace runs from the client's request to the detection pipeline
-- (docs/operations.md, "Following one photo"). A dead letter keeps it, and a requeue puts it back.
--
-- Cost of applying it: nullable columns without a default only change the catalog (no table
-- rewrite); each ALTER takes its table's ACCESS EXCLUSIVE lock for a moment, which the
-- migrator's lock_timeout keeps from queueing behind long transactions. Events written before
-- this migration, and by the reconciler, carry a trace of their own or none (NULL).
ALTER TABLE outbox_events
    ADD COLUMN traceparent text,
    ADD COLUMN tracestate text;

ALTER TABLE outbox_dead_letters
    ADD COLUMN traceparent text,
    ADD COLUMN tracestate text;
