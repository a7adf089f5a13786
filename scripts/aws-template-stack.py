"""Deploys deploy/aws/photo-upload.yaml to LocalStack and reads back what it created.

Run by scripts/check-aws-template.sh with the python of its lint venv (cfn-lint decodes the
template, boto3 talks to LocalStack at AWS_ENDPOINT_URL). Three stacks:

  main    the defaults (standard queue, SSE-S3): every read-back must pass, and its bucket and
          queue are written to --outputs (shell assignments) for the demo;
  fifo    QueueType=fifo with a KMS key ARN: the same read-backs, for FIFO and SSE-KMS;
  broken  the template with one fault per read-back: every one of them must report its fault,
          so a read-back that cannot fail fails the check.

LocalStack's CloudFormation applies a bucket's versioning and CORS but ignores its
BucketEncryption, PublicAccessBlockConfiguration, OwnershipControls and LifecycleConfiguration
(its S3 resource provider does not read them): those are read from the template, resolved with
the stack's parameters, applied through the S3 API (PutBucketEncryption, PutPublicAccessBlock,
PutBucketOwnershipControls, PutBucketLifecycleConfiguration) and read back like the rest.
LocalStack does not enforce bucket policies or IAM either: the TLS-only statement and the
managed policies are read back as documents.
Exit status 0 when everything matched, 1 otherwise.
"""

import argparse
import copy
import json
import os
import sys

import boto3
from botocore.config import Config
from cfnlint.decode import decode

PHOTO_API_OBJECT_ACTIONS = {
    "s3:PutObject",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
}
KMS_ACTIONS = {"kms:GenerateDataKey", "kms:Decrypt"}
ORIGINS = ["https://app.example.com", "https://admin.example.com"]
RETENTION_DAYS = 45
VISIBILITY_TIMEOUT = 120
MAX_RECEIVE_COUNT = 4


class Failure(Exception):
    pass


def clients():
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    region = os.environ.get("AWS_REGION", "us-east-1")

    def client(name, **kwargs):
        return boto3.client(name, endpoint_url=endpoint, region_name=region, **kwargs)

    return {
        "cloudformation": client("cloudformation"),
        "s3": client("s3", config=Config(s3={"addressing_style": "path"})),
        "sqs": client("sqs"),
        "iam": client("iam"),
        "sts": client("sts"),
    }


def load_template(path):
    template, matches = decode(path)
    if matches:
        raise Failure(f"{path} does not decode: {[str(m) for m in matches]}")
    # cfn-lint's node types subclass dict/str/list; a JSON round trip gives plain values.
    return json.loads(json.dumps(template))


# --- lifecycle rules: from the template into the S3 API's shape --------------------------------


NO_VALUE = object()


class Resolver:
    """Evaluates the intrinsics the bucket's properties use (Ref to a parameter or a pseudo
    parameter, Fn::If, and Fn::Not / Fn::Equals in conditions) with one stack's parameters, so
    properties LocalStack's CloudFormation ignores can be applied exactly as AWS would."""

    def __init__(self, template, parameters):
        declared = template.get("Parameters", {})
        self.parameters = {name: str(parameters.get(name, spec.get("Default", ""))) for name, spec in declared.items()}
        self.parameters["AWS::Region"] = os.environ.get("AWS_REGION", "us-east-1")
        self.conditions = {name: bool(self(rule)) for name, rule in template.get("Conditions", {}).items()}

    def __call__(self, value):
        if isinstance(value, list):
            return [item for item in map(self, value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if list(value) == ["Ref"]:
            if value["Ref"] == "AWS::NoValue":
                return NO_VALUE
            if value["Ref"] in self.parameters:
                return self.parameters[value["Ref"]]
        if list(value) == ["Fn::If"]:
            condition, when_true, when_false = value["Fn::If"]
            return self(when_true if self.conditions[condition] else when_false)
        if list(value) == ["Fn::Not"]:
            return not self(value["Fn::Not"][0])
        if list(value) == ["Fn::Equals"]:
            left, right = map(self, value["Fn::Equals"])
            return str(left) == str(right)
        if any(key.startswith("Fn::") or key == "Ref" for key in value):
            raise Failure(f"unsupported intrinsic {value}")
        resolved = {key: self(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}


def take(properties, name, owner):
    """Removes and returns a required property; a missing one fails naming where it was."""
    if name not in properties:
        raise Failure(f"{owner}: no {name}")
    return properties.pop(name)


def only(properties, owner):
    """Every property is mapped explicitly: one added to the template that this script does not
    map fails the check instead of being dropped silently."""
    if properties:
        raise Failure(f"{owner}: properties this check does not map: {sorted(properties)}")


def bucket_property(template, parameters, name):
    properties = template["Resources"]["PhotoBucket"]["Properties"]
    return Resolver(template, parameters)(take(properties.copy(), name, "PhotoBucket"))


def encryption_configuration(template, parameters):
    """BucketEncryption, as PutBucketEncryption takes it."""
    rules = []
    for rule in take(bucket_property(template, parameters, "BucketEncryption"), "ServerSideEncryptionConfiguration", "BucketEncryption"):
        rule = dict(rule)
        default = dict(take(rule, "ServerSideEncryptionByDefault", "encryption rule"))
        api_rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": take(default, "SSEAlgorithm", "encryption rule")}}
        if "KMSMasterKeyID" in default:
            api_rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] = default.pop("KMSMasterKeyID")
        if "BucketKeyEnabled" in rule:
            api_rule["BucketKeyEnabled"] = rule.pop("BucketKeyEnabled") in (True, "true")
        only(default, "ServerSideEncryptionByDefault")
        only(rule, "encryption rule")
        rules.append(api_rule)
    return {"Rules": rules}


def public_access_block_configuration(template, parameters):
    block = dict(bucket_property(template, parameters, "PublicAccessBlockConfiguration"))
    names = ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"]
    result = {name: take(block, name, "PublicAccessBlockConfiguration") in (True, "true") for name in names}
    only(block, "PublicAccessBlockConfiguration")
    return result


def ownership_controls(template, parameters):
    rules = []
    for rule in take(bucket_property(template, parameters, "OwnershipControls"), "Rules", "OwnershipControls"):
        rule = dict(rule)
        rules.append({"ObjectOwnership": take(rule, "ObjectOwnership", "OwnershipControls rule")})
        only(rule, "OwnershipControls rule")
    return {"Rules": rules}


def lifecycle_rules(template, parameters):
    """The bucket's LifecycleConfiguration rules, as PutBucketLifecycleConfiguration takes them."""
    converted = []
    for rule in take(bucket_property(template, parameters, "LifecycleConfiguration"), "Rules", "LifecycleConfiguration"):
        rule = dict(rule)
        api_rule = {
            "ID": take(rule, "Id", "lifecycle rule"),
            "Status": take(rule, "Status", "lifecycle rule"),
            "Filter": {"Prefix": rule.pop("Prefix", "")},
        }
        if "AbortIncompleteMultipartUpload" in rule:
            days = int(rule.pop("AbortIncompleteMultipartUpload")["DaysAfterInitiation"])
            api_rule["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
        if "NoncurrentVersionExpiration" in rule:
            days = int(rule.pop("NoncurrentVersionExpiration")["NoncurrentDays"])
            api_rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": days}
        if "ExpiredObjectDeleteMarker" in rule:
            api_rule["Expiration"] = {"ExpiredObjectDeleteMarker": rule.pop("ExpiredObjectDeleteMarker") in (True, "true")}
        only(rule, f"lifecycle rule {api_rule['ID']}")
        converted.append(api_rule)
    return converted


def apply_what_localstack_ignores(aws, bucket, template, parameters):
    """LocalStack 4.13.1's CloudFormation applies a bucket's versioning, CORS, notifications,
    object lock, tags and website, and ignores the rest (its S3 resource provider): apply the
    template's encryption, public access block, ownership controls and lifecycle rules
    through the S3 API, resolved with the stack's parameters, so the read-backs see them."""
    s3 = aws["s3"]
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=encryption_configuration(template, parameters))
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=public_access_block_configuration(template, parameters))
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=ownership_controls(template, parameters))
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": lifecycle_rules(template, parameters)})


def lifecycle_problems(rules, retention_days):
    """What the issue asks of the rules: multipart uploads aborted after 1 day, noncurrent
    versions expired after the retention days, both enabled and for the whole bucket."""
    problems = []
    enabled = [r for r in rules if r["Status"] == "Enabled" and r["Filter"] == {"Prefix": ""}]
    aborts = [r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] for r in enabled if "AbortIncompleteMultipartUpload" in r]
    if aborts != [1]:
        problems.append(f"incomplete multipart uploads must be aborted after 1 day, rules say {aborts}")
    noncurrent = [r["NoncurrentVersionExpiration"]["NoncurrentDays"] for r in enabled if "NoncurrentVersionExpiration" in r]
    if noncurrent != [retention_days]:
        problems.append(f"noncurrent versions must expire after {retention_days} days, rules say {noncurrent}")
    if any("Expiration" in r and set(r["Expiration"]) != {"ExpiredObjectDeleteMarker"} for r in rules):
        problems.append("a rule expires current versions: photos must never expire")
    return problems


def normalised_rules(rules):
    return sorted(json.dumps(rule, sort_keys=True) for rule in rules)


# --- deployment -----------------------------------------------------------------------------


def deploy(aws, stack_name, template_body, parameters):
    cfn = aws["cloudformation"]
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=template_body,
        Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    try:
        cfn.get_waiter("stack_create_complete").wait(StackName=stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 180})
    except Exception as error:
        events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
        reasons = [f"{e['LogicalResourceId']}: {e['ResourceStatus']} {e.get('ResourceStatusReason', '')}" for e in events]
        raise Failure(f"stack {stack_name} was not created ({error}):\n  " + "\n  ".join(reasons))
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    print(f"stack {stack_name}: {stack['StackStatus']}")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


# --- read-backs: each returns a list of problems ---------------------------------------------


def statements(aws, policy_arn):
    iam = aws["iam"]
    version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)["PolicyVersion"]["Document"]
    if isinstance(document, str):
        document = json.loads(document)
    result = document["Statement"]
    return result if isinstance(result, list) else [result]


def as_set(value):
    return {value} if isinstance(value, str) else set(value)


def grants(statement_list):
    """(action, resource, condition) triples allowed; the condition as JSON text, or None."""
    triples = set()
    for statement in statement_list:
        if statement.get("Effect") != "Allow":
            continue
        condition = json.dumps(statement["Condition"], sort_keys=True) if "Condition" in statement else None
        for action in as_set(statement["Action"]):
            for resource in as_set(statement["Resource"]):
                triples.add((action, resource, condition))
    return triples


def kms_grants(key_arn, service):
    """kms:GenerateDataKey and kms:Decrypt on the key, only through that service."""
    region = os.environ.get("AWS_REGION", "us-east-1")
    condition = json.dumps({"StringEquals": {"kms:ViaService": f"{service}.{region}.amazonaws.com"}}, sort_keys=True)
    return {(action, key_arn, condition) for action in KMS_ACTIONS}


def read_back(aws, outputs, expected):
    """Every read-back, by name: {name: [problems]}."""
    s3, sqs = aws["s3"], aws["sqs"]
    bucket = outputs["BucketName"]
    bucket_arn = f"arn:aws:s3:::{bucket}"
    queue_url = outputs["QueueUrl"]
    kms_key = expected["kms_key_arn"]
    results = {}

    def check(name, function):
        try:
            results[name] = function()
        except Exception as error:  # a missing configuration reads as an error from the API
            results[name] = [f"{type(error).__name__}: {error}"]

    def versioning():
        status = s3.get_bucket_versioning(Bucket=bucket).get("Status")
        return [] if status == "Enabled" else [f"versioning is {status!r}, not Enabled"]

    def encryption():
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        default = rules[0]["ApplyServerSideEncryptionByDefault"]
        want = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key} if kms_key else {"SSEAlgorithm": "AES256"}
        problems = [] if default == want else [f"default encryption is {default}, expected {want}"]
        if kms_key and rules[0].get("BucketKeyEnabled") is not True:
            problems.append("S3 Bucket Key is not enabled with SSE-KMS")
        return problems

    def public_access_block():
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        off = sorted(k for k, v in block.items() if v is not True)
        return [f"public access block settings off: {off}"] if off or len(block) != 4 else []

    def tls_only_policy():
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        for statement in policy["Statement"]:
            if (
                statement.get("Effect") == "Deny"
                and statement.get("Principal") in ("*", {"AWS": "*"})
                and as_set(statement.get("Action")) == {"s3:*"}
                and as_set(statement.get("Resource")) == {bucket_arn, f"{bucket_arn}/*"}
                and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            ):
                return []
        return [f"no statement denies requests without TLS: {policy['Statement']}"]

    def cors():
        rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
        if len(rules) != 1:
            return [f"expected one CORS rule, got {rules}"]
        rule, problems = rules[0], []
        if sorted(rule.get("AllowedOrigins", [])) != sorted(expected["origins"]):
            problems.append(f"origins {rule.get('AllowedOrigins')} != {expected['origins']}")
        if not {"PUT", "GET"} <= set(rule.get("AllowedMethods", [])):
            problems.append(f"methods {rule.get('AllowedMethods')} lack PUT or GET")
        headers = {h.lower() for h in rule.get("AllowedHeaders", [])}
        if not {"content-type", "x-amz-checksum-sha256"} <= headers:
            problems.append(f"allowed headers {sorted(headers)} lack the signed headers")
        if "etag" not in {h.lower() for h in rule.get("ExposeHeaders", [])}:
            problems.append(f"ETag is not exposed: {rule.get('ExposeHeaders')}")
        return problems

    def queue_attributes(url):
        return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]

    def redrive():
        attributes = queue_attributes(queue_url)
        dlq_arn = queue_attributes(outputs["DeadLetterQueueUrl"])["QueueArn"]
        policy = json.loads(attributes.get("RedrivePolicy", "{}"))
        want = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": expected["max_receive_count"]}
        got = {"deadLetterTargetArn": policy.get("deadLetterTargetArn"), "maxReceiveCount": int(policy.get("maxReceiveCount", 0))}
        problems = [] if got == want else [f"redrive policy {policy}, expected {want}"]
        if int(attributes["VisibilityTimeout"]) != expected["visibility_timeout"]:
            problems.append(f"visibility timeout {attributes['VisibilityTimeout']} != {expected['visibility_timeout']}")
        return problems

    def queue_type():
        problems = []
        for url in (queue_url, outputs["DeadLetterQueueUrl"]):
            attributes = queue_attributes(url)
            fifo = attributes.get("FifoQueue") == "true"
            if fifo != expected["fifo"] or url.endswith(".fifo") != expected["fifo"]:
                problems.append(f"{url}: FifoQueue={attributes.get('FifoQueue')}, expected fifo={expected['fifo']}")
            if fifo and attributes.get("ContentBasedDeduplication") != "false":
                problems.append(f"{url}: content-based deduplication on (the relay sends MessageDeduplicationId)")
        return problems

    def queue_encryption():
        problems = []
        for url in (queue_url, outputs["DeadLetterQueueUrl"]):
            attributes = queue_attributes(url)
            if kms_key:
                if attributes.get("KmsMasterKeyId") != kms_key:
                    problems.append(f"{url}: KmsMasterKeyId {attributes.get('KmsMasterKeyId')!r} != {kms_key}")
            elif attributes.get("SqsManagedSseEnabled") != "true":
                problems.append(f"{url}: SqsManagedSseEnabled is {attributes.get('SqsManagedSseEnabled')!r}")
        return problems

    def policy_grants(output):
        """The grants of the process's policy and, with a key, of its KMS policy."""
        arns = [outputs[output]] + ([outputs[output.replace("PolicyArn", "KmsPolicyArn")]] if kms_key else [])
        return grants([statement for arn in arns for statement in statements(aws, arn)])

    def photo_api_policy():
        got = policy_grants("PhotoApiPolicyArn")
        want = {(action, f"{bucket_arn}/*", None) for action in PHOTO_API_OBJECT_ACTIONS}
        want.add(("s3:ListBucket", bucket_arn, None))
        want.add(("s3:ListBucketVersions", bucket_arn, None))
        if kms_key:
            want |= kms_grants(kms_key, "s3")
        return [] if got == want else [f"photo-api grants differ: extra {sorted(got - want)}, missing {sorted(want - got)}"]

    def relay_policy():
        queue_arn = queue_attributes(queue_url)["QueueArn"]
        got = policy_grants("OutboxRelayPolicyArn")
        want = {("sqs:SendMessage", queue_arn, None)}
        if kms_key:
            want |= kms_grants(kms_key, "sqs")
        return [] if got == want else [f"outbox-relay grants differ: extra {sorted(got - want)}, missing {sorted(want - got)}"]

    def ownership():
        rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
        return [] if rules == [{"ObjectOwnership": "BucketOwnerEnforced"}] else [f"object ownership {rules}: ACLs not disabled"]

    def lifecycle():
        back = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        problems = lifecycle_problems(back, expected["retention_days"])
        applied = lifecycle_rules(expected["template"], expected["parameters"])
        if normalised_rules(back) != normalised_rules(applied):
            problems.append(f"lifecycle read back as {back}, applied {applied}")
        return problems

    for name, function in [
        ("versioning", versioning),
        ("encryption", encryption),
        ("public-access-block", public_access_block),
        ("ownership-controls", ownership),
        ("tls-only-policy", tls_only_policy),
        ("cors", cors),
        ("redrive", redrive),
        ("queue-type", queue_type),
        ("queue-encryption", queue_encryption),
        ("photo-api-policy", photo_api_policy),
        ("relay-policy", relay_policy),
        ("lifecycle", lifecycle),
    ]:
        check(name, function)
    return results


# --- the broken template: one fault per read-back ---------------------------------------------


def break_template(template, kms_key):
    """A copy with one fault for each read-back, keyed by the read-back that must notice it."""
    broken = copy.deepcopy(template)
    resources = broken["Resources"]
    bucket = resources["PhotoBucket"]["Properties"]
    queue = resources["DetectionQueue"]["Properties"]
    faults = {
        "versioning": lambda: bucket["VersioningConfiguration"].update(Status="Suspended"),
        "encryption": lambda: bucket.update(
            BucketEncryption={
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key}}
                ]
            }
        ),
        "public-access-block": lambda: bucket["PublicAccessBlockConfiguration"].update(RestrictPublicBuckets=False),
        "ownership-controls": lambda: bucket["OwnershipControls"]["Rules"][0].update(ObjectOwnership="ObjectWriter"),
        "tls-only-policy": lambda: resources.pop("PhotoBucketPolicy"),
        "cors": lambda: bucket["CorsConfiguration"]["CorsRules"][0].update(ExposedHeaders=["x-amz-version-id"]),
        "redrive": lambda: queue.pop("RedrivePolicy"),
        "queue-type": lambda: [
            resources[name]["Properties"].update(QueueName={"Fn::Sub": f"detection-requests-${{EnvironmentName}}{suffix}.fifo"}, FifoQueue=True)
            for name, suffix in (("DetectionQueue", ""), ("DetectionDeadLetterQueue", "-dlq"))
        ],
        "queue-encryption": lambda: queue.update(SqsManagedSseEnabled=False),
        "photo-api-policy": lambda: resources["PhotoApiPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]["Action"].append(
            "s3:PutObjectAcl"
        ),
        "relay-policy": lambda: resources["OutboxRelayPolicy"]["Properties"]["PolicyDocument"]["Statement"][0].update(
            Action=["sqs:SendMessage", "sqs:ReceiveMessage"]
        ),
        "lifecycle": lambda: bucket["LifecycleConfiguration"]["Rules"][0]["AbortIncompleteMultipartUpload"].update(
            DaysAfterInitiation=7
        ),
    }
    for fault in faults.values():
        fault()
    return broken, set(faults)


# --- main ---------------------------------------------------------------------------------------


def report(title, results, labels=("ok", "FAIL")):
    """One line per read-back; labels for (no problem, problems)."""
    print(f"{title}:")
    for name, problems in results.items():
        print(f"  {labels[0] if not problems else labels[1]:<7}{name}")
        for problem in problems:
            print(f"           {problem}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", required=True)
    parser.add_argument("--outputs", required=True, help="file for the main stack's PHOTOS_BUCKET / DETECTION_QUEUE_URL")
    args = parser.parse_args()

    aws = clients()
    template = load_template(args.template)
    with open(args.template, encoding="utf-8") as file:
        body = file.read()
    # LocalStack 4.13.1's KMS fails CreateKey here (an InternalError), and S3/SQS take a key ARN
    # without asking KMS, so the KMS variant uses a well-formed ARN of no real key.
    region = os.environ.get("AWS_REGION", "us-east-1")
    account = aws["sts"].get_caller_identity()["Account"]
    kms_key = f"arn:aws:kms:{region}:{account}:key/00000000-0000-4000-8000-00000000c0de"
    failed = False

    common = {
        "AllowedOrigins": ",".join(ORIGINS),
        "NoncurrentVersionRetentionDays": RETENTION_DAYS,
        "VisibilityTimeoutSeconds": VISIBILITY_TIMEOUT,
        "MaxReceiveCount": MAX_RECEIVE_COUNT,
    }

    def expectation(parameters, kms, fifo, source):
        return {
            "origins": ORIGINS,
            "retention_days": RETENTION_DAYS,
            "visibility_timeout": VISIBILITY_TIMEOUT,
            "max_receive_count": MAX_RECEIVE_COUNT,
            "kms_key_arn": kms,
            "fifo": fifo,
            "template": source,
            "parameters": parameters,
        }

    variants = [
        ("photo-upload-check", {"EnvironmentName": "check", **common}, "", False),
        ("photo-upload-check-fifo", {"EnvironmentName": "check-fifo", "QueueType": "fifo", "KmsKeyArn": kms_key, **common}, kms_key, True),
    ]
    main_outputs = None
    for stack_name, parameters, kms, fifo in variants:
        outputs = deploy(aws, stack_name, body, parameters)
        apply_what_localstack_ignores(aws, outputs["BucketName"], template, parameters)
        results = read_back(aws, outputs, expectation(parameters, kms, fifo, template))
        report(f"read-backs of {stack_name}", results)
        failed |= any(results.values())
        main_outputs = main_outputs or outputs

    # The broken copy, deployed with the main stack's parameters: each fault must be reported.
    broken, faults = break_template(template, kms_key)
    parameters = {"EnvironmentName": "check-broken", **common}
    outputs = deploy(aws, "photo-upload-check-broken", json.dumps(broken), parameters)
    apply_what_localstack_ignores(aws, outputs["BucketName"], broken, parameters)
    results = read_back(aws, outputs, expectation(parameters, "", False, broken))
    report("read-backs of photo-upload-check-broken (one fault each: every one must catch it)", results, ("MISSED", "caught"))
    unnoticed = sorted(name for name in faults if not results.get(name))
    if unnoticed or set(results) != faults:
        print(f"FAIL: read-backs that did not notice their fault: {unnoticed}; untested: {sorted(set(results) - faults)}")
        failed = True

    with open(args.outputs, "w", encoding="utf-8") as file:
        file.write(f"PHOTOS_BUCKET={main_outputs['BucketName']}\n")
        file.write(f"DETECTION_QUEUE_URL={main_outputs['QueueUrl']}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        sys.exit(1)
