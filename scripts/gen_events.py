"""Writes events/: API Gateway REST (v1) proxy events (one HTTP API v2 event too) for every
function and route, valid and invalid, and events/manifest.json, which says for each event
the function it is for, the response it must produce, and the order and state the proof
(scripts/prove_events.py) runs them in.

Regenerate after changing a route: python3 scripts/gen_events.py
"""

import base64
import hashlib
import hmac
import json
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "events"

# What the proof runs the functions with (events/README.md says how to use your own): a
# merchant and a card program, each with its API key, and the session keys.
MERCHANT = "events-shop"
API_KEY = "events-api-key-0000001"
ISSUER = "events-bank"
ISSUER_API_KEY = "events-issuer-key-00001"
REDIRECT_KID = "events-shop-1"
REDIRECT_KEY = "events-redirect-signing-key-0123456789"
SESSION_MAC_KID = "events-mac"
SESSION_MAC_KEY = "events-session-mac-key-0123456789abcdef"
DOMAIN = "abcdef1234.execute-api.eu-west-1.amazonaws.com"
STAGE = "v1"
EXPIRY = "01/2030"


ISSUING = "/card/issuance/api/issuing"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# The registry as deployed (gateway::tenants::parts): the routing document, and each
# kind of tenant secret in a part of its own.
REGISTRY = {"tenants": [
    {"id": MERCHANT, "roles": ["merchant"], "api_key_sha256": [sha256(API_KEY)],
     "merchant": {"return_origins": ["https://shop.example"]}},
    {"id": ISSUER, "roles": ["issuer"], "api_key_sha256": [sha256(ISSUER_API_KEY)],
     "issuer": {"budget_ids": ["ci202008281528472924", "ci202210231533401801"]}},
]}
REGISTRY_PARTS = {
    "redirect-keys": {"tenants": {MERCHANT: [{"kid": REDIRECT_KID, "secret": REDIRECT_KEY}]}},
    "webhook-keys": {"tenants": {}},
    "payer-auth": {"tenants": {}},
    "card-issuance": {"tenants": {}},
}
ISSUER_KEYS = {
    "data_encryption_keys": [{"kid": "events-issuer", "key": "ZXZlbnRzLXByb29mLWlzc3Vlci1rZXktMzItYnl0ZXM="}],
    "session_mac_keys": [{"kid": "events-issuer", "key": "events-proof-issuer-mac-key-0123456789"}],
}
SESSION_KEYS = {
    "data_encryption_keys": [{"kid": "events", "key": "ZXZlbnRzLXByb29mLWRhdGEta2V5LTMyLWJ5dGVzISE="}],
    "session_mac_keys": [{"kid": SESSION_MAC_KID, "key": SESSION_MAC_KEY}],
}


def binding(reference_code: str) -> str:
    """The return-URL binding token, as gateway::session::sealing computes it: `kid.` and
    the URL-safe HMAC of the purpose and the length-prefixed tenant and reference code."""
    mac = hmac.new(SESSION_MAC_KEY.encode(), digestmod=hashlib.sha256)
    mac.update(b"return-url-binding")
    for part in (MERCHANT, reference_code):
        mac.update(struct.pack(">Q", len(part)))
        mac.update(part.encode())
    return SESSION_MAC_KID + "." + base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def transaction_id(reference_code: str) -> str:
    """The sandbox's --deterministic-ids authentication transaction id."""
    return hashlib.sha256(f"transaction_id:{reference_code}".encode()).hexdigest()[:20]


def reference_id(reference_code: str) -> str:
    """The sandbox's --deterministic-ids setup reference_id."""
    h = hashlib.sha256(f"reference_id:{reference_code}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def rest(method, path, body=None, headers=None, api_key=True, base64_body=False, query=None, resource=None):
    headers = dict(headers or {})
    if body is not None and "content-type" not in headers:
        headers["content-type"] = "application/json"
    if api_key:
        # The issuer routes take the card program's key, the others the merchant's.
        headers["x-api-key"] = api_key if isinstance(api_key, str) else (
            ISSUER_API_KEY if path.startswith(ISSUING) else API_KEY)
    headers.setdefault("host", DOMAIN)
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if body is not None and base64_body:
        body = base64.b64encode(body.encode()).decode()
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "abc123",
            "stage": STAGE,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTimeEpoch": 1767225600000,
            "identity": {"sourceIp": "203.0.113.9", "userAgent": "Mozilla/5.0"},
            "resourcePath": resource or path,
            "httpMethod": method,
            "apiId": "abcdef1234",
            "protocol": "HTTP/1.1",
            "domainName": DOMAIN,
            "path": f"/{STAGE}{path}",
        },
        "body": body,
        "isBase64Encoded": base64_body,
    }


JOBS = f"{ISSUING}/3ds/v2/enroll/jobs"
UNKNOWN_JOB = "00000000-0000-4000-8000-000000000000"
# The job queues' ARNs as the proof names them (JOB_DEAD_LETTER_QUEUE_ARN).
JOB_QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:jobs"
JOB_DEAD_LETTER_ARN = "arn:aws:sqs:eu-west-1:123456789012:jobs-dead"


def chunk_event(source_arn):
    """An SQS batch of one job chunk (of a job that does not exist: nothing is run)."""
    return {"Records": [{
        "messageId": "0b9e3f4a-3c1d-4e5f-8a6b-7c8d9e0f1a2b", "receiptHandle": "AQEBzWwaftRI0KuVm4tP",
        "body": json.dumps({"tenant": ISSUER, "job_id": UNKNOWN_JOB,
                            "range": {"first_line": 1, "start": 0, "end": 120, "items": 1}}),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795000000000"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": source_arn, "awsRegion": "eu-west-1"}]}


def http_api(method, path, body):
    headers = {"content-type": "application/json", "x-api-key": ISSUER_API_KEY, "host": DOMAIN}
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": f"/{STAGE}{path}",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": DOMAIN,
            "domainPrefix": "abcdef1234",
            "http": {"method": method, "path": f"/{STAGE}{path}", "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.9", "userAgent": "Mozilla/5.0"},
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "$default",
            "stage": STAGE,
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000,
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


AUTH = "/v1/risk/authentication"
CARD = "card59202507231957437131"
EMMA = "471041678120300545"
LIAM = "471041678120300546"


def setup_body(ref, card):
    return {"transaction_info": {"type": "setup", "reference_code": ref},
            "card": {"number": card, "expiration_date": EXPIRY}}


def enroll_body(ref, card):
    return {
        "transaction_info": {"type": "check_enroll", "reference_code": ref},
        "card": {"number": card, "expiration_date": EXPIRY},
        "order_info": {"amount_details": {"total_amount": "1000", "currency": "MXN"}},
        "bill_to": {"first_name": "John", "last_name": "Doe", "country": "US", "address_1": "1 Market St",
                    "address_2": "Suite 200", "city": "san francisco", "state": "CA",
                    "phone_number": "4158880000", "email": "accept@gmsectec.com", "postal_code": "94105"},
        "buyer_info": {"mobile_phone": "4158880000"},
        "device_info": {"ip_address": "190.123.237.237", "http_browser_color_depth": "30",
                        "http_browser_java_enabled": False, "http_browser_js_enabled": True,
                        "http_browser_screen_height": "1117", "http_browser_screen_width": "1728",
                        "http_browser_time_offset": "240",
                        "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36",
                        "cookies_accepted": True, "http_browser_language": "en-US",
                        "http_accept_content": "application/json"},
        "authentication": {"reference_id": reference_id(ref),
                           "return_url": "https://shop.example/checkout/return?order=42",
                           "device_channel": "Browser", "mode": "S",
                           "token": "AxixbwSTl1LdGx33S/NFAU9+ZWgkZAKH0MmkmXoxkcwdAJgAOBao"},
    }


def validate_body(ref, card, tid):
    enroll = enroll_body(ref, card)
    return {"transaction_info": {"type": "validate_result", "reference_code": ref}, "card": enroll["card"],
            "order_info": enroll["order_info"], "bill_to": enroll["bill_to"],
            "authentication": {"transaction_id": tid}}


def return_path(ref, token=None):
    return f"{AUTH}/callback/{MERCHANT}/{ref}/{token or binding(ref)}"


FORM = {"content-type": "application/x-www-form-urlencoded"}
RETURN_RESOURCE = f"{AUTH}/callback/{{tenant}}/{{reference_code}}/{{binding}}"
REDIRECTED = f"https://shop.example/checkout/return?order=42&reference_code=evt-challenge&tenant={MERCHANT}&status=authenticated"

def stream_event(changes):
    """A DynamoDB Streams batch as Lambda passes it (new and old images)."""
    records = []
    for i, (name, key, old, new) in enumerate(changes):
        records.append({
            "eventID": f"c81e728d9d4c2f636f067f89cc14862{i}", "eventName": name, "eventVersion": "1.1",
            "eventSource": "aws:dynamodb", "awsRegion": "eu-west-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1795000060, "Keys": {"pk": {"S": key}},
                "NewImage": {"pk": {"S": key}, **new}, "OldImage": {"pk": {"S": key}, **old},
                "SequenceNumber": f"4000000000000000000{i}", "SizeBytes": 512,
                "StreamViewType": "NEW_AND_OLD_IMAGES"},
            "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/gateway/stream/2026-11-29T00:00:00.000"})
    return {"Records": records}


# (file, function, event, expectation, extra) in the order the proof runs them.
steps = [
    # --- enroll function (issuer side)
    ("enroll/create-cardholder.json", "enroll", rest("POST", f"{ISSUING}/cardholders/v2/create", {
        "budget_id": "ci202008281528472924", "first_name": "Emma", "last_name": "Johnson", "call_prefix": "+1",
        "mobile": "2125551234", "email": "emma.johnson@example.com", "date_of_birth": "1996-10-31",
        "state": "Illinois", "city": "Chicago", "address_line": "456 Maple Avenue", "post_code": "60601",
        "country_code": "US", "security_index": "2", "security_answer": "Han"}),
     {"status": 200, "json": {"/code": "SUCCESS"}}, {}),
    ("enroll/enroll.json", "enroll", rest("POST", f"{ISSUING}/3ds/v2/enroll", {"card_id": CARD, "cardholder_id": EMMA}),
     {"status": 200, "json": {"/code": "SUCCESS", "/data/isSuccess": True}}, {}),
    ("enroll/enroll-conflict.json", "enroll", rest("POST", f"{ISSUING}/3ds/v2/enroll", {"card_id": CARD, "cardholder_id": LIAM}),
     {"status": 409, "json": {"/code": "CARD_ALREADY_ENROLLED"}}, {}),
    ("enroll/update-enrollment.json", "enroll", rest("POST", f"{ISSUING}/3ds/v2/update", {"card_id": CARD, "cardholder_id": LIAM}),
     {"status": 200, "json": {"/code": "SUCCESS"}}, {}),
    ("enroll/enrollment-detail.json", "enroll", rest("GET", f"{ISSUING}/3ds/v2/detail", query={"card_id": CARD}),
     {"status": 200, "json": {"/data/cardholder_id": LIAM, "/data/security_answer": "[REDACTED]"}}, {}),
    ("enroll/query-cardholders.json", "enroll", rest("GET", f"{ISSUING}/cardholders/v2/detail", query={"cardholder_id": EMMA}),
     {"status": 200, "json": {"/data/total": 1}}, {}),
    ("enroll/update-cardholder.json", "enroll", rest("POST", f"{ISSUING}/cardholders/v2/update", {
        "cardholder_id": EMMA, "call_prefix": "+1", "mobile": "3125559999", "email": "emma.johnson@example.com",
        "date_of_birth": "1996-10-31", "state": "Illinois", "city": "Chicago", "address_line": "456 Maple Avenue",
        "post_code": "60601", "country_code": "US", "security_index": "2", "security_answer": "Han"}),
     {"status": 200, "json": {"/code": "SUCCESS"}}, {}),
    ("enroll/enroll-batch.json", "enroll", rest("POST", f"{ISSUING}/3ds/v2/enroll/batch", {"items": [
        {"card_id": "card20250101000000000000", "cardholder_id": EMMA},
        {"card_id": "card00000000000000000000", "cardholder_id": EMMA}]}),
     {"status": 200, "json": {"/data/enrolled": 1, "/data/failed": 1, "/data/results/1/code": "CARD_NOT_FOUND"}}, {}),
    ("enroll/card-status.json", "enroll", rest("GET", f"{ISSUING}/3ds/v2/status", query={"card_id": CARD}),
     {"status": 200, "json": {"/data/status": "ENROLLED", "/data/cardholder_id": LIAM}}, {}),
    ("enroll/card-status-refresh.json", "enroll", rest("GET", f"{ISSUING}/3ds/v2/status", query={"card_id": CARD, "refresh": "true"}),
     {"status": 200, "json": {"/data/differed": False, "/data/refreshed": True}}, {}),
    ("enroll/card-status-batch.json", "enroll", rest("POST", f"{ISSUING}/3ds/v2/status/batch",
                                                     {"card_ids": [CARD, "card20250101000000000000", "card00000000000000000000"]}),
     {"status": 200, "json": {"/data/results/0/status": "ENROLLED", "/data/results/1/status": "ENROLLED",
                              "/data/results/2/status": "UNKNOWN"}}, {}),
    ("enroll/unenroll.json", "enroll", rest("POST", f"{ISSUING}/3ds/v2/unenroll", {"card_id": CARD},
                                            headers={"idempotency-key": "events-unenroll-1"}),
     {"status": 200, "json": {"/code": "SUCCESS"}}, {}),
    ("enroll/unenroll-repeated-with-its-key.json", "enroll", rest("POST", f"{ISSUING}/3ds/v2/unenroll", {"card_id": CARD},
                                                                  headers={"idempotency-key": "events-unenroll-1"}),
     {"status": 200, "json": {"/code": "SUCCESS"}}, {}),
    ("enroll/card-status-after-unenroll.json", "enroll", rest("GET", f"{ISSUING}/3ds/v2/status", query={"card_id": CARD}),
     {"status": 200, "json": {"/data/status": "UNENROLLED", "/data/enrolled": False}}, {}),
    ("enroll/enroll-http-api-v2.json", "enroll", http_api("POST", f"{ISSUING}/3ds/v2/enroll",
                                                          {"card_id": "card20820230817163921206780", "cardholder_id": EMMA}),
     {"status": 200, "json": {"/code": "SUCCESS"}}, {}),
    ("enroll/invalid-card-id.json", "enroll", rest("POST", f"{ISSUING}/3ds/v2/enroll", {"card_id": "card 1", "cardholder_id": EMMA}),
     {"status": 400, "json": {"/code": "INVALID_PARAMETER", "/field": "card_id"}}, {}),
    ("enroll/invalid-missing-api-key.json", "enroll", rest("POST", f"{ISSUING}/3ds/v2/enroll", {"card_id": CARD, "cardholder_id": EMMA}, api_key=False),
     {"status": 401, "json": {"/code": "UNAUTHORIZED"}}, {}),
    ("enroll/invalid-malformed-json.json", "enroll", rest("POST", f"{ISSUING}/3ds/v2/enroll", '{"card_id": '),
     {"status": 400, "json": {"/code": "MALFORMED_JSON"}}, {}),
    ("enroll/invalid-unknown-route.json", "enroll", rest("POST", f"{ISSUING}/3ds/v2/disenroll", {"card_id": CARD}),
     {"status": 404, "json": {"/code": "ROUTE_NOT_FOUND"}}, {}),
    ("enroll/invalid-merchant-key.json", "enroll", rest("POST", f"{ISSUING}/3ds/v2/enroll", {"card_id": CARD, "cardholder_id": EMMA}, api_key=API_KEY),
     {"status": 403, "json": {"/code": "ROLE_NOT_ALLOWED"}}, {}),
    # --- check-enroll function (merchant side)
    ("check-enroll/setup.json", "check-enroll", rest("POST", f"{AUTH}/setup", setup_body("evt-frictionless", "4000000000002701")),
     {"status": 200, "json": {"/data/transaction_info/status": "Completed"}}, {}),
    ("check-enroll/enroll-frictionless.json", "check-enroll", rest("POST", f"{AUTH}/enroll", enroll_body("evt-frictionless", "4000000000002701")),
     {"status": 200, "json": {"/data/transaction_info/status": "Authentication_successful", "/data/consumer_auth_info/eci": "05"}}, {}),
    ("check-enroll/status.json", "check-enroll", rest("GET", f"{AUTH}/evt-frictionless", resource=f"{AUTH}/{{reference_code}}"),
     {"status": 200, "json": {"/data/state": "AUTHENTICATED", "/data/authentication/liability_shift": True}}, {}),
    ("check-enroll/setup-challenge.json", "check-enroll", rest("POST", f"{AUTH}/setup", setup_body("evt-challenge", "4000000000002503")),
     {"status": 200}, {}),
    ("check-enroll/enroll-challenge.json", "check-enroll", rest("POST", f"{AUTH}/enroll", enroll_body("evt-challenge", "4000000000002503")),
     {"status": 200, "json": {"/data/transaction_info/status": "Pending_authentication",
                              "/data/consumer_auth_info/authentication_transaction_id": transaction_id("evt-challenge")}},
     {"capture": "evt-challenge"}),
    ("check-enroll/setup-validate.json", "check-enroll", rest("POST", f"{AUTH}/setup", setup_body("evt-validate", "4000000000002503")),
     {"status": 200}, {}),
    ("check-enroll/enroll-validate.json", "check-enroll", rest("POST", f"{AUTH}/enroll", enroll_body("evt-validate", "4000000000002503")),
     {"status": 200, "json": {"/data/transaction_info/status": "Pending_authentication"}}, {"capture": "evt-validate"}),
    ("check-enroll/invalid-card-number.json", "check-enroll", rest("POST", f"{AUTH}/enroll", {
        **enroll_body("evt-invalid", "4000000000002701"), "card": {"number": "4000000000002702", "expiration_date": EXPIRY}}),
     {"status": 400, "json": {"/error/field": "card.number"}}, {}),
    ("check-enroll/invalid-return-url.json", "check-enroll", rest("POST", f"{AUTH}/enroll", {
        **enroll_body("evt-invalid", "4000000000002701"),
        "authentication": {**enroll_body("evt-invalid", "4000000000002701")["authentication"], "return_url": "https://evil.example/"}}),
     {"status": 400, "json": {"/error/field": "authentication.return_url"}}, {}),
    ("check-enroll/status-unknown.json", "check-enroll", rest("GET", f"{AUTH}/evt-never-seen", resource=f"{AUTH}/{{reference_code}}"),
     {"status": 404, "json": {"/error/reason": "SESSION_NOT_FOUND"}}, {}),
    # --- the merchant's validate (check-enroll function), for a challenge completed in its page
    ("check-enroll/validate.json", "check-enroll", rest("POST", f"{AUTH}/validate",
                                                validate_body("evt-validate", "4000000000002503", transaction_id("evt-validate"))),
     {"status": 200, "json": {"/data/transaction_info/type": "validate_result_response",
                              "/data/transaction_info/status": "Authentication_successful"}},
     {"before": {"complete_challenge": "evt-validate", "otp": "1234"}}),
    ("check-enroll/validate-no-challenge.json", "check-enroll", rest("POST", f"{AUTH}/validate",
                                                             validate_body("evt-frictionless", "4000000000002701", "AAAAAAAAAAAAAAAAAAAA")),
     {"status": 409, "json": {"/error/reason": "NO_CHALLENGE_PENDING"}}, {}),
    ("check-enroll/invalid-validate-type.json", "check-enroll", rest("POST", f"{AUTH}/validate", {
        **validate_body("evt-validate", "4000000000002503", "AAAAAAAAAAAAAAAAAAAA"), "transaction_info": {"type": "validate", "reference_code": "evt-validate"}}),
     {"status": 400, "json": {"/error/field": "transaction_info.type"}}, {}),
    # --- callback function (the browser's return)
    ("callback/return-form-post.json", "callback", rest(
        "POST", return_path("evt-challenge"), f"TransactionId={transaction_id('evt-challenge')}&MD=null",
        headers=FORM, api_key=False, base64_body=True, resource=RETURN_RESOURCE),
     {"status": 303, "location_prefix": REDIRECTED},
     {"before": {"complete_challenge": "evt-challenge", "otp": "1234"}}),
    ("callback/return-replay-get.json", "callback", rest(
        "GET", return_path("evt-challenge"), api_key=False, resource=RETURN_RESOURCE,
        query={"TransactionId": transaction_id("evt-challenge"), "MD": "null"}),
     {"status": 303, "location_prefix": REDIRECTED}, {}),
    ("callback/invalid-return-binding.json", "callback", rest(
        "POST", return_path("evt-challenge", "not-the-binding-token"), f"TransactionId={transaction_id('evt-challenge')}&MD=null",
        headers=FORM, api_key=False, resource=RETURN_RESOURCE),
     {"status": 403, "body_contains": "does not belong"}, {}),
    ("callback/invalid-return-missing-transaction-id.json", "callback", rest(
        "POST", return_path("evt-challenge"), "MD=null", headers=FORM, api_key=False, resource=RETURN_RESOURCE),
     # A valid return URL never dead-ends: the decided session sends the browser to its outcome.
     {"status": 303, "location_prefix": REDIRECTED}, {}),
    # --- notify function (change stream, deliveries, sweeper)
    ("notify/table-change-authenticated.json", "notify", stream_event([
        ("MODIFY", f"AUTH#{MERCHANT}#evt-stream",
         {"state": {"S": "VALIDATING"}},
         {"kind": {"S": "authentication_session"}, "reference_code": {"S": "evt-stream"},
          "tenant_id": {"S": MERCHANT}, "state": {"S": "AUTHENTICATED"}, "created_at": {"N": "1795000000000"},
          "updated_at": {"N": "1795000060000"}, "expires_at": {"N": "1795604860"},
          "mutation_id": {"S": "3f1b6c1e-2b7c-4f55-9a3e-6c1f0a7d2e10"},
          "card": {"M": {"network": {"S": "VISA"}, "last4": {"S": "2503"}}},
          "result": {"M": {"transaction_status": {"S": "Authentication_successful"}, "eci": {"S": "05"},
                           "eci_raw": {"S": "05"}, "pares_status": {"S": "Y"}}}})]),
     {"response": {"/batchItemFailures": []}, "event_recorded": {"tenant": MERCHANT, "type": "authentication.succeeded"}}, {}),
    ("notify/delivery-of-an-unknown-event.json", "notify", {"Records": [{
        "messageId": "5fea7756-0ea4-451a-a703-a558b933e274", "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
        "body": json.dumps({"tenant": MERCHANT, "event_id": "evt_00000000000000000000000000000000"}),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795000000000"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:deliveries", "awsRegion": "eu-west-1"}]},
     {"response": {"/batchItemFailures": []}}, {}),
    ("notify/sweeper-schedule.json", "notify", {"task": "sweep"},
     {"response": {"/expired": 0}}, {}),
    # --- history function (events, the merchant's authentications)
    ("history/list-events.json", "history", rest("GET", "/v1/events", query={"limit": "1"}),
     {"status": 200, "json": {"/data/events/0/type": "authentication.succeeded",
                              "/data/events/0/data/reference_code": "evt-stream"}}, {}),
    ("history/list-authentications.json", "history", rest("GET", AUTH, query={"state": "AUTHENTICATED"}),
     {"status": 200, "json": {"/status": "success", "/data/authentications/0/state": "AUTHENTICATED"}}, {}),
    ("history/redeliver-unknown-event.json", "history", rest(
        "POST", "/v1/events/evt_00000000000000000000000000000000/redeliver", {},
        resource="/v1/events/{event_id}/redeliver"),
     {"status": 404, "json": {"/error/reason": "EVENT_NOT_FOUND"}}, {}),
    ("history/invalid-type-as-card-program.json", "history", rest(
        "GET", "/v1/events", api_key=ISSUER_API_KEY, query={"type": "payment.made"}),
     # A card program is answered in the card-issuance API's envelope.
     {"status": 400, "json": {"/code": "INVALID_PARAMETER", "/field": "type"}}, {}),
    # --- jobs function (bulk enrollment): refused before anything is kept or queued
    ("jobs/create-with-a-bad-item.json", "jobs", rest("POST", JOBS, {"items": [
        {"card_id": "card59202507231957437131", "cardholder_id": "471041678120300545"},
        {"card_id": "not a card id", "cardholder_id": "471041678120300545"}]}),
     {"status": 400, "json": {"/code": "INVALID_PARAMETER", "/field": "items[1].card_id"}}, {}),
    ("jobs/job-unknown.json", "jobs", rest("GET", f"{JOBS}/{UNKNOWN_JOB}", resource=f"{JOBS}/{{job_id}}"),
     {"status": 404, "json": {"/code": "JOB_NOT_FOUND"}}, {}),
    ("jobs/invalid-merchant-key.json", "jobs", rest("GET", f"{JOBS}/{UNKNOWN_JOB}", api_key=API_KEY,
                                                   resource=f"{JOBS}/{{job_id}}"),
     {"status": 403, "json": {"/code": "ROLE_NOT_ALLOWED"}}, {}),
    # --- job worker (the job queue's chunks and its dead letters)
    ("job-worker/chunk-of-an-unknown-job.json", "job-worker", chunk_event(JOB_QUEUE_ARN),
     {"response": {"/batchItemFailures": []}}, {}),
    ("job-worker/dead-chunk-of-an-unknown-job.json", "job-worker", chunk_event(JOB_DEAD_LETTER_ARN),
     {"response": {"/batchItemFailures": []}}, {}),
]

SAM_FUNCTION = {"enroll": "EnrollFunction", "check-enroll": "CheckEnrollFunction", "callback": "CallbackFunction",
                "history": "HistoryFunction", "notify": "NotifyFunction", "jobs": "JobsFunction",
                "job-worker": "JobWorkerFunction"}

manifest = []
for file, function, event, expect, extra in steps:
    path = OUT / file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(event, indent=2) + "\n")
    manifest.append({"event": file, "function": function, "sam_function": SAM_FUNCTION[function],
                     "expect": expect, **extra})

(OUT / "manifest.json").write_text(json.dumps({
    "secrets": {
        "tenants": REGISTRY,
        **{f"tenants/{part}": document for part, document in REGISTRY_PARTS.items()},
        "session_keys": SESSION_KEYS,
        "issuer_keys": ISSUER_KEYS,
        "card_issuance": {"api_key": "sandbox-ahrvo-api-key", "access_token": "sandbox-ahrvo-access-token"},
        "payer_auth": {"api_key": "sandbox-firstoken-api-key"},
    },
    "steps": manifest,
}, indent=2) + "\n")
print(f"wrote {len(manifest)} events to {OUT}")
