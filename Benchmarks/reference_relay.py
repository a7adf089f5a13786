"""The reference relay of the benchmark: the straightforward outbox relay one would write first.

psycopg 3 + boto3, one connection, one loop:

    BEGIN
    SELECT ... FROM outbox_events WHERE due ORDER BY ... LIMIT 10 FOR UPDATE SKIP LOCKED
    sqs.send_message_batch(...)            (one call per claimed batch)
    DELETE the delivered events; mark the failed ones for a later attempt
    COMMIT

and a 1 s sleep whenever nothing is due. No LISTEN/NOTIFY, no pipelining, no concurrency.
Benchmarks/run.sh measures it beside `outbox-relay` in the same run, as the baseline.

Environment: DATABASE_URL, DETECTION_QUEUE_URL, AWS_ENDPOINT_URL_SQS (or AWS_ENDPOINT_URL),
AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; REFERENCE_POLL_SECONDS (default 1),
REFERENCE_BATCH_SIZE (default 10). Stops after the batch in hand on SIGTERM/SIGINT (exit 0).
"""

import os
import signal
import sys
import time

import boto3
import psycopg
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

CLAIM = """
SELECT id, event_type, payload::text
  FROM outbox_events
 WHERE next_attempt_at <= now()
 ORDER BY next_attempt_at, created_at
 LIMIT %s
   FOR UPDATE SKIP LOCKED
"""

DELETE_DELIVERED = "DELETE FROM outbox_events WHERE id = ANY(%s)"

RECORD_FAILURE = """
UPDATE outbox_events
   SET attempts = attempts + 1,
       last_error = %s,
       next_attempt_at = now() + make_interval(secs => least(300, power(2, attempts)))
 WHERE id = %s
"""

stopping = False


def _stop(_signum, _frame):
    global stopping
    stopping = True


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    queue_url = os.environ["DETECTION_QUEUE_URL"]
    endpoint = os.environ.get("AWS_ENDPOINT_URL_SQS") or os.environ.get("AWS_ENDPOINT_URL")
    poll = float(os.environ.get("REFERENCE_POLL_SECONDS", "1"))
    batch_size = int(os.environ.get("REFERENCE_BATCH_SIZE", "10"))
    sqs = boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        config=Config(retries={"max_attempts": 3, "mode": "standard"}),
    )
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        while not stopping:
            try:
                claimed = relay_one_batch(conn, sqs, queue_url, batch_size)
            except (psycopg.Error, BotoCoreError, ClientError) as error:
                # The transaction rolled back: the batch is claimed again on a later pass.
                print(f"reference-relay: {error}", file=sys.stderr, flush=True)
                claimed = 0
            if claimed == 0:
                # Nothing due: poll again in a second (in short naps, to stop promptly).
                deadline = time.monotonic() + poll
                while not stopping and time.monotonic() < deadline:
                    time.sleep(min(0.1, poll))
    return 0


def relay_one_batch(conn: psycopg.Connection, sqs, queue_url: str, batch_size: int) -> int:
    """Claims, sends and retires one batch in one transaction; returns how many it claimed."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(CLAIM, (batch_size,))
        rows = cur.fetchall()
        if not rows:
            return 0
        by_entry = {str(index): row for index, row in enumerate(rows)}
        response = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {
                    "Id": entry_id,
                    "MessageBody": payload,
                    "MessageAttributes": {
                        "event_id": {"DataType": "String", "StringValue": str(event_id)},
                        "event_type": {"DataType": "String", "StringValue": event_type},
                    },
                }
                for entry_id, (event_id, event_type, payload) in by_entry.items()
            ],
        )
        delivered = [by_entry[entry["Id"]][0] for entry in response.get("Successful", [])]
        if delivered:
            cur.execute(DELETE_DELIVERED, (delivered,))
        for failure in response.get("Failed", []):
            error = f"{failure.get('Code')}: {failure.get('Message')}"
            cur.execute(RECORD_FAILURE, (error, by_entry[failure["Id"]][0]))
        return len(rows)


if __name__ == "__main__":
    sys.exit(main())
