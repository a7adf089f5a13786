#!/usr/bin/env python3
"""botocore's header-signed S3 requests, the oracle of S3HeaderSigningTests.

Usage: botocore_sign_headers.py CASES.json
CASES.json holds a JSON array of objects:
  method, url                          the request (the URL as our signer built it)
  headers                              object: extra headers to sign (e.g. Range)
  region, access_key, secret_key       signing settings
  session_token                        optional
  timestamp                            the signing time, whole seconds since 1970 (UTC)
Prints {"botocore_version": ..., "headers": [{name: value, ...}, ...]}: the headers botocore's
S3SigV4Auth adds (Authorization, X-Amz-Date, X-Amz-Content-SHA256, X-Amz-Security-Token), made
at exactly that timestamp by botocore's Python signer (the CRT is disabled).
"""
import datetime
import json
import os
import sys

for name in list(os.environ):
    if name.startswith("AWS_"):
        del os.environ[name]
os.environ["BOTO_DISABLE_CRT"] = "true"

try:
    from unittest import mock

    import botocore
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as error:
    print(f"botocore_sign_headers.py: cannot import botocore ({error}); pip install botocore", file=sys.stderr)
    sys.exit(2)


def sign(case):
    request = AWSRequest(method=case["method"], url=case["url"], headers=dict(case.get("headers", {})))
    credentials = Credentials(case["access_key"], case["secret_key"], case.get("session_token"))
    now = datetime.datetime.fromtimestamp(case["timestamp"], tz=datetime.timezone.utc).replace(tzinfo=None)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=now):
        botocore.auth.S3SigV4Auth(credentials, "s3", case["region"]).add_auth(request)
    wanted = ("authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token")
    return {name.lower(): value for name, value in request.headers.items() if name.lower() in wanted}


def main():
    if len(sys.argv) != 2:
        print("usage: botocore_sign_headers.py CASES.json", file=sys.stderr)
        return 1
    with open(sys.argv[1], encoding="utf-8") as handle:
        cases = json.load(handle)
    json.dump({"botocore_version": botocore.__version__, "headers": [sign(case) for case in cases]}, sys.stdout)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # one line, for the test's failure message
        print(f"botocore_sign_headers.py: {error}", file=sys.stderr)
        sys.exit(1)
