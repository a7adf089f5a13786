#!/usr/bin/env python3
"""botocore's pre-signing throughput, the baseline of Benchmarks/Presign (Benchmarks/api/run.sh).

Usage: botocore_presign_rate.py [SECONDS]
Calls generate_presigned_url('put_object', Bucket, Key, ContentType, ContentLength) with s3v4
on one thread for about SECONDS (default 5) with varying keys, and prints
{"urls_per_second": ..., "count": ..., "seconds": ..., "botocore_version": ...}.
botocore's Python signer is measured (BOTO_DISABLE_CRT=true), as in the S3Presigner oracle.
"""
import json
import os
import sys
import time
import uuid

for name in list(os.environ):
    if name.startswith("AWS_"):
        del os.environ[name]
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["BOTO_DISABLE_CRT"] = "true"

import botocore  # noqa: E402
import botocore.session  # noqa: E402
from botocore.config import Config  # noqa: E402


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    session = botocore.session.get_session()
    client = session.create_client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"},
        ),
    )
    keys = [f"uploads/org-{i % 7}/{uuid.uuid4()}/photo-{i}.jpg" for i in range(1024)]
    count = 0
    url_bytes = 0
    start = time.perf_counter()
    deadline = start + seconds
    now = start
    while now < deadline:
        for _ in range(100):
            url = client.generate_presigned_url(
                "put_object",
                Params={
                    "Bucket": "photos-bench",
                    "Key": keys[count & 1023],
                    "ContentType": "image/jpeg",
                    "ContentLength": 1_000_000 + (count & 4095),
                },
                ExpiresIn=900,
            )
            url_bytes += len(url)
            count += 1
        now = time.perf_counter()
    elapsed = now - start
    print(json.dumps({
        "urls_per_second": int(count / elapsed),
        "count": count,
        "seconds": round(elapsed, 3),
        "url_bytes": url_bytes,
        "botocore_version": botocore.__version__,
    }))


if __name__ == "__main__":
    main()
