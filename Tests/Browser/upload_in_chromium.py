"""docs/examples/browser/ in a real browser: Debian's Chromium, headless, through chromedriver.

Serves the page from two loopback origins, one that the API and the bucket allow and one that
they do not, and drives the page in each: from the allowed origin the photo goes through the
real preflights (the API's and S3's) to `processing`, with its EXIF and the image shown through
its download URL; from the other origin the browser refuses, as it would for a stranger's site.

Run by BrowserExampleTests (Tests/APITests), which starts Postgres, photo-api, the relay and
LocalStack; prints one JSON line with what it saw and exits 1 when a check failed.
"""

import argparse
import functools
import http.server
import json
import pathlib
import sys
import threading
import time
import urllib.parse

import boto3
import yaml
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

PAGE_DIR = pathlib.Path(__file__).resolve().parents[2] / "docs" / "examples" / "browser"
TEMPLATE = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "aws" / "photo-upload.yaml"


class TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short intrinsics (`!Ref X`) as {"!Ref": X}."""


TemplateLoader.add_multi_constructor(
    "!", lambda loader, suffix, node: {"!" + suffix: loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else loader.construct_sequence(node)}
)


def template_cors_rules(origin):
    """The bucket's CORS rules as deploy/aws/photo-upload.yaml sets them, in the S3 API's
    shape, with `origin` as the AllowedOrigins parameter: the test and the deployment cannot
    drift apart."""
    template = yaml.load(TEMPLATE.read_text(), Loader=TemplateLoader)
    buckets = [r for r in template["Resources"].values() if r["Type"] == "AWS::S3::Bucket"]
    rules = []
    for bucket in buckets:
        for rule in bucket["Properties"].get("CorsConfiguration", {}).get("CorsRules", []):
            origins = rule["AllowedOrigins"]
            rules.append(
                {
                    "AllowedOrigins": [origin] if origins == {"!Ref": "AllowedOrigins"} else origins,
                    "AllowedMethods": rule["AllowedMethods"],
                    "AllowedHeaders": rule.get("AllowedHeaders", []),
                    "ExposeHeaders": rule.get("ExposedHeaders", []),
                    "MaxAgeSeconds": rule.get("MaxAge", 0),
                }
            )
    if not rules:
        raise SystemExit(f"{TEMPLATE} sets no CORS rules on its bucket")
    return rules


def serve(port):
    handler = functools.partial(QuietHandler, directory=str(PAGE_DIR))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript"}

    def log_message(self, *args):
        pass


def bucket_cors(args, origin):
    """Gives the test's bucket the deployment template's CORS rules, for `origin`."""
    s3 = boto3.client(
        "s3",
        endpoint_url=args.s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    s3.put_bucket_cors(Bucket=args.bucket, CORSConfiguration={"CORSRules": template_cors_rules(origin)})


def run_page(driver, origin, args):
    query = urllib.parse.urlencode({"api": args.api, "token": args.token, "project": args.project})
    driver.get(f"{origin}/index.html?{query}")
    driver.find_element(By.ID, "file").send_keys(args.file)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        state = driver.find_element(By.ID, "status").get_attribute("data-state")
        if state in ("done", "error"):
            break
        time.sleep(0.2)
    return {
        "state": driver.find_element(By.ID, "status").get_attribute("data-state"),
        "status": driver.find_element(By.ID, "status").text,
        "exif_rows": len(driver.find_elements(By.CSS_SELECTOR, "#exif tr")),
        "image_width": driver.execute_script("return document.getElementById('photo').naturalWidth"),
        "progress": driver.execute_script("return document.getElementById('progress').value"),
    }


def main():
    parser = argparse.ArgumentParser()
    for name in ("api", "token", "project", "file", "s3-endpoint", "bucket", "screenshot"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--allowed-port", type=int, required=True)
    parser.add_argument("--other-port", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()

    allowed = f"http://127.0.0.1:{args.allowed_port}"
    other = f"http://127.0.0.1:{args.other_port}"
    bucket_cors(args, allowed)
    servers = [serve(args.allowed_port), serve(args.other_port)]

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,1400"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    problems = []
    try:
        seen = run_page(driver, allowed, args)
        driver.save_screenshot(args.screenshot)
        if seen["state"] != "done" or not seen["status"].startswith("processing"):
            problems.append(f"the allowed origin's upload did not reach processing: {seen['status']}")
        if seen["exif_rows"] == 0:
            problems.append("no EXIF shown")
        if not seen["image_width"]:
            problems.append("the photo did not load through its download URL")
        if seen["progress"] != 1:
            problems.append(f"upload progress ended at {seen['progress']}")
        refused = run_page(driver, other, args)
        if refused["state"] != "error":
            problems.append(f"a page from an origin that is not allowed got through: {refused['status']}")
        # The page may log what it likes; the browser's own console names the CORS refusal.
        console = [entry["message"] for entry in driver.get_log("browser")]
        if not any("CORS" in message for message in console):
            problems.append("the browser's console does not name a CORS refusal")
        print(json.dumps({"allowed": seen, "other": refused, "problems": problems}))
    finally:
        driver.quit()
        for server in servers:
            server.shutdown()
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
