#!/usr/bin/env python3
"""Validates every example of an OpenAPI 3.1 document against the schema it illustrates.

    check-openapi-examples.py [Sources/API/openapi.yaml]

Walks the request bodies and responses of every operation (following `$ref`s to shared
responses and to `components/examples`) and validates each `example` / `examples` value
against its media type's schema, as JSON Schema 2020-12 with formats checked (uuid,
date-time, uri). Prints one line per invalid example and exits 1 if there is any.
Needs PyYAML and jsonschema_rs, both in the schemathesis venv that scripts/test.sh installs.
"""
import sys

import jsonschema_rs
import yaml

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def resolve(document, node):
    """Follows a local `$ref` (`#/components/...`) to what it names."""
    while isinstance(node, dict) and "$ref" in node:
        target = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def examples_of(document, media):
    """The (name, value) pairs of a media type object's `example` and `examples`."""
    if "example" in media:
        yield "example", media["example"]
    for name, example in (media.get("examples") or {}).items():
        yield name, resolve(document, example)["value"]


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "Sources/API/openapi.yaml"
    with open(path, encoding="utf-8") as file:
        document = yaml.safe_load(file)
    failures, checked = [], 0
    for route, item in document["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            places = []
            if "requestBody" in operation:
                places.append(("request body", resolve(document, operation["requestBody"])))
            for status, response in operation.get("responses", {}).items():
                places.append((f"response {status}", resolve(document, response)))
            for where, holder in places:
                for media_type, media in (holder.get("content") or {}).items():
                    # The schema with the document's components beside it, so that its
                    # `#/components/schemas/...` references resolve.
                    schema = {
                        "$schema": "https://json-schema.org/draft/2020-12/schema",
                        "components": document.get("components", {}),
                        **media.get("schema", {}),
                    }
                    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
                    for name, value in examples_of(document, media):
                        checked += 1
                        for error in validator.iter_errors(value):
                            failures.append(
                                f"{method.upper()} {route} {where} {media_type} example {name!r}: "
                                f"{error.message} at /{'/'.join(map(str, error.instance_path))}"
                            )
    for failure in failures:
        print(failure)
    print(f"{checked} examples checked, {len(failures)} problems", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
