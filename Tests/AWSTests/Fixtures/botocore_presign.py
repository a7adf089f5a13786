#!/usr/bin/env python3
"""botocore's pre-signed S3 URLs, the oracle of S3PresignerTests.

Usage: botocore_presign.py CASES.json
CASES.json holds a JSON array of objects:
  region, bucket, key                  strings
  operation                            "put_object" (default), "get_object" or "head_object"
  content_type, content_length         put_object: signed as Content-Type / Content-Length
  checksum_sha256                      optional, put_object: signed as x-amz-checksum-sha256
  version_id                           optional, get_object / head_object: the VersionId parameter
  expires                              X-Amz-Expires, seconds
  timestamp                            the signing time, whole seconds since 1970 (UTC)
  access_key, secret_key               credentials
  session_token                        optional
  endpoint                             optional endpoint override, e.g. http://127.0.0.1:4566
  addressing_style                     "virtual" or "path"
Prints {"botocore_version": ..., "urls": [...]}: botocore's generate_presigned_url result for
each case, made at exactly that timestamp (botocore.auth.get_current_datetime patched), by
botocore's Python signer (the CRT is disabled). Exits 2 when botocore cannot be imported, 1 on
any other problem, with one line on stderr.
"""
import datetime
import json
import os
import sys

# The caller's AWS settings (scripts/test.sh exports AWS_ENDPOINT_URL for LocalStack, a
# developer may have ~/.aws/config) must not change what botocore generates: every input
# comes from the case.
for name in list(os.environ):
    if name.startswith("AWS_"):
        del os.environ[name]
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
# With awscrt installed (boto3[crt], LocalStack's venv) botocore signs through the CRT,
# which orders the query parameters differently and reads the clock elsewhere. The oracle
# is botocore's own Python signer, whatever is installed next to it.
os.environ["BOTO_DISABLE_CRT"] = "true"

try:
    from unittest import mock

    import botocore
    import botocore.auth
    import botocore.compat
    import botocore.session
    from botocore.config import Config
except ImportError as error:
    print(f"botocore_presign.py: cannot import botocore ({error}); pip install botocore", file=sys.stderr)
    sys.exit(2)


def make_client(session, case):
    endpoint = case.get("endpoint")
    config = Config(
        signature_version="s3v4",
        s3={
            "addressing_style": case.get("addressing_style", "virtual"),
            # https://BUCKET.s3.us-east-1.amazonaws.com, not the legacy global endpoint.
            "us_east_1_regional_endpoint": "regional",
        },
        request_checksum_calculation="when_required",
    )
    client_args = dict(
        region_name=case["region"],
        aws_access_key_id=case["access_key"],
        aws_secret_access_key=case["secret_key"],
        aws_session_token=case.get("session_token"),
        config=config,
    )
    if endpoint:
        client_args["endpoint_url"] = endpoint
    return session.create_client("s3", **client_args)


def presign(session, clients, case):
    # Creating a client takes tens of milliseconds: one per distinct configuration.
    settings = tuple(
        case.get(name)
        for name in ("region", "access_key", "secret_key", "session_token", "endpoint", "addressing_style")
    )
    if settings not in clients:
        clients[settings] = make_client(session, case)
    client = clients[settings]
    operation = case.get("operation", "put_object")
    params = {"Bucket": case["bucket"], "Key": case["key"]}
    expected_signed = ["host"]
    if operation == "put_object":
        params["ContentType"] = case["content_type"]
        params["ContentLength"] = case["content_length"]
        expected_signed += ["content-type", "content-length"]
        if case.get("checksum_sha256") is not None:
            params["ChecksumSHA256"] = case["checksum_sha256"]
            expected_signed.append("x-amz-checksum-sha256")
    elif case.get("version_id") is not None:
        params["VersionId"] = case["version_id"]
    now = datetime.datetime.fromtimestamp(case["timestamp"], tz=datetime.timezone.utc).replace(tzinfo=None)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=now):
        url = client.generate_presigned_url(operation, Params=params, ExpiresIn=case["expires"])
    # The comparison only means something if botocore signed what we sign.
    signed = url.split("X-Amz-SignedHeaders=", 1)[1].split("&", 1)[0].split("%3B")
    if sorted(signed) != sorted(expected_signed):
        raise RuntimeError(f"botocore signed {signed}, expected {sorted(expected_signed)}")
    return url


def main():
    if len(sys.argv) != 2:
        print("usage: botocore_presign.py CASES.json", file=sys.stderr)
        return 1
    with open(sys.argv[1], encoding="utf-8") as handle:
        cases = json.load(handle)
    if botocore.compat.HAS_CRT:
        raise RuntimeError("botocore still uses the CRT signer despite BOTO_DISABLE_CRT")
    session = botocore.session.get_session()
    clients = {}
    urls = [presign(session, clients, case) for case in cases]
    json.dump({"botocore_version": botocore.__version__, "urls": urls}, sys.stdout)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # one clear line for the Swift test's failure message
        print(f"botocore_presign.py: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
