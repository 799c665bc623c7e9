"""Builds the Postman collection (v2.1; Bruno and Insomnia import it too) of the API
contract: docs/gateway.postman_collection.json, one folder per tag of docs/openapi.json,
one request per operation with the document's example body, each role's test key of the
local stack and the sandbox behind it (`cargo run -p local`) as collection variables.

Each request carries a test that its answer is one the contract documents for it and never
a 5xx; the test command runs the whole collection with newman against the local stack.

  python3 scripts/gen_collection.py            # writes the collection
  python3 scripts/gen_collection.py --check    # fails if the committed one is stale
"""

import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "docs" / "openapi.json"
OUT = ROOT / "docs" / "gateway.postman_collection.json"
CHECK = sys.argv[1:] == ["--check"]

# The local stack's demo tenants (local/src/tenants.rs) and a path value for each parameter.
VARIABLES = {
    "baseUrl": "http://127.0.0.1:3000",
    "merchantKey": "local-merchant-key-000001",
    "issuerKey": "local-issuer-key-0000001",
    "reference_code": "order-1001",
    "job_id": "job_00000000000000000000000000",
    "event_id": "evt_00000000000000000000000000",
    "tenant": "demo-shop",
    "budget_id": "ci202008281528472924",
    "binding": "not-a-binding.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
}
KEYS = {"merchantKey": "{{merchantKey}}", "issuerKey": "{{issuerKey}}"}
# The collection runs as a flow where one answer feeds the next (as the contract's links
# say): setup's reference_id and token into check enroll, a new job's id into the job
# routes. {operationId: [(variable, path in the answer)]}.
CAPTURES = {
    "setupAuthentication": [("setup_reference_id", "data.consumer_auth_info.reference_id"),
                            ("setup_token", "data.consumer_auth_info.token")],
    "createEnrollmentJob": [("job_id", "data.job_id")],
}
# {operationId: {path in the example body: value}}: what the flow feeds, and the demo
# merchant's return URL (its registered origin is the stack's own).
FEEDS = {
    "checkEnroll": {("authentication", "reference_id"): "{{setup_reference_id}}",
                    ("authentication", "token"): "{{setup_token}}",
                    ("authentication", "return_url"): "{{baseUrl}}/demo/result"},
}
# The steps of the flow that must succeed when run in order on a fresh local stack: the
# rest may answer any status the contract documents for them (an unknown id's 404...).
MUST_SUCCEED = {
    "setupAuthentication", "checkEnroll", "getAuthentication", "consumeAuthentication",
    "listAuthentications", "enrollCard", "getCardStatus", "createCardholder", "queryCardholders",
    "createEnrollmentJob", "getEnrollmentJob", "listEvents", "getBrowserLibrary", "getOpenApiDocument",
}
# The query parameters a request is sent with (the rest are listed, off).
ENABLED_QUERY = {"queryCardholders": {"budget_id"}}


def follow(document, node):
    """The node a `$ref` names (repeatedly), or the node itself."""
    while isinstance(node, dict) and "$ref" in node:
        target = document
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def example_of(document, schema, depth=0):
    """An example of `schema`: its own, else one built from its required properties."""
    schema = follow(document, schema)
    if not isinstance(schema, dict) or depth > 8:
        return None
    if "examples" in schema:
        return schema["examples"][0]
    if "example" in schema:
        return schema["example"]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for combined in ("oneOf", "anyOf", "allOf"):
        if combined in schema:
            return example_of(document, schema[combined][0], depth + 1)
    kind = schema.get("type")
    kind = next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {name: example_of(document, properties.get(name, {}), depth + 1)
                for name in schema.get("required", [])}
    if kind == "array":
        return [example_of(document, schema.get("items", {}), depth + 1)]
    return {"integer": 1, "number": 1, "boolean": False}.get(kind, "")


def request_of(document, path, method, operation):
    headers = [{"key": "x-api-key", "value": KEYS[scheme]}
               for requirement in operation.get("security", [])[:1] for scheme in requirement]
    query = []
    for parameter in operation.get("parameters", []):
        parameter = follow(document, parameter)
        if parameter["in"] == "query":
            value = ("{{" + parameter["name"] + "}}" if parameter["name"] in VARIABLES
                     else parameter.get("example", example_of(document, parameter.get("schema", {}))))
            enabled = parameter.get("required", False) or parameter["name"] in ENABLED_QUERY.get(operation["operationId"], ())
            query.append({"key": parameter["name"], "value": str(value if value is not None else ""),
                          "disabled": not enabled})
        elif parameter["in"] == "header" and parameter.get("required"):
            headers.append({"key": parameter["name"], "value": "{{$guid}}"})
    raw_path = re.sub(r"\{([a-z_]+)\}", r"{{\1}}", path)
    request = {
        "method": method.upper(),
        "header": headers,
        "url": {
            "raw": "{{baseUrl}}" + raw_path + ("?" + "&".join(f"{q['key']}={q['value']}" for q in query if not q["disabled"]) if any(not q["disabled"] for q in query) else ""),
            "host": ["{{baseUrl}}"],
            "path": [segment for segment in raw_path.split("/") if segment],
            "query": query,
        },
        "description": operation.get("description", operation.get("summary", "")),
    }
    body = operation.get("requestBody", {}).get("content", {})
    if "application/json" in body:
        example = example_of(document, body["application/json"]["schema"])
        for (outer, inner), value in FEEDS.get(operation["operationId"], {}).items():
            example[outer][inner] = value
        headers.append({"key": "content-type", "value": "application/json"})
        request["body"] = {"mode": "raw", "raw": json.dumps(example, indent=2, ensure_ascii=False)}
    elif "application/x-www-form-urlencoded" in body:
        example = example_of(document, body["application/x-www-form-urlencoded"]["schema"]) or {}
        request["body"] = {"mode": "urlencoded",
                           "urlencoded": [{"key": k, "value": str(v)} for k, v in example.items()]}
    return request


def test_of(operation):
    documented = sorted(status for status in operation["responses"] if status.isdigit())
    ranges = sorted(status[0] for status in operation["responses"] if status.endswith("XX"))
    return {"listen": "test", "script": {"type": "text/javascript", "exec": [
        f"const documented = {json.dumps(documented)}, ranges = {json.dumps(ranges)};",
        "const status = String(pm.response.code);",
        "pm.test('an answer the contract documents', () => pm.expect(documented.includes(status) || ranges.includes(status[0])).to.be.true);",
        "pm.test('not a server error', () => pm.expect(pm.response.code).to.be.below(500));",
        "pm.test('its request id', () => pm.expect(pm.response.headers.get('x-request-id')).to.be.a('string'));",
        *(["pm.test('a step of the flow that succeeds', () => pm.expect(pm.response.code).to.be.below(300));"]
          if operation["operationId"] in MUST_SUCCEED else []),
        *[f"if (pm.response.code < 300) pm.collectionVariables.set({json.dumps(variable)}, "
          f"pm.response.json().{path});" for variable, path in CAPTURES.get(operation["operationId"], [])],
    ]}}


def main():
    document = json.loads(CONTRACT.read_text(encoding="utf-8"))
    folders = {tag["name"]: {"name": tag["name"], "description": tag.get("description", ""), "item": []}
               for tag in document["tags"]}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            folders[operation["tags"][0]]["item"].append({
                "name": operation["summary"],
                "request": request_of(document, path, method, operation),
                "event": [test_of(operation)],
            })
    collection = {
        "info": {
            "_postman_id": hashlib.sha256(CONTRACT.read_bytes()).hexdigest()[:32],
            "name": document["info"]["title"],
            "description": "Generated from docs/openapi.json by scripts/gen_collection.py: every route, with the "
                           "local stack's test keys (cargo run -p local, the upstream sandbox behind it).",
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "variable": [{"key": k, "value": v} for k, v in VARIABLES.items()],
        "item": [folder for folder in folders.values() if folder["item"]],
    }
    text = json.dumps(collection, indent=2, ensure_ascii=False) + "\n"
    if CHECK:
        if OUT.read_text(encoding="utf-8") != text:
            sys.exit(f"{OUT.relative_to(ROOT)} is stale: run scripts/gen_collection.py and commit the result")
        print(f"{OUT.relative_to(ROOT)} is up to date")
    else:
        OUT.write_text(text, encoding="utf-8")
        print(f"wrote {OUT.relative_to(ROOT)}: {sum(len(f['item']) for f in folders.values())} requests")


if __name__ == "__main__":
    main()
