"""Scans the logs the whole test run captured (target/test-logs/: every test process, the
Lambda functions under the Runtime API emulator, the local stack of the browser tests) for
data that must never be logged, and checks that our log lines are JSON carrying the
request id.

Fails on: a Luhn-valid run of 13-19 digits (a card number), an expiry (MM/YY, MM/YYYY), a
JWT, a bearer token, a security answer that is not redacted, or any of the API keys,
upstream credentials and signing/encryption keys the test, events and local
configurations use — in clear, and base64-encoded (standard or URL-safe, at any
alignment inside a longer blob, and inside every base64 token that decodes), as a raw
API Gateway event would carry a body. Offending lines are reported by file, line and kind — never printed.
Also checks that request lines carry the request id, and that an accepted request on a
session or card route names its reference_code or card_id.

Usage: python3 scripts/scan_logs.py [LOG_DIR]
"""

import base64
import binascii
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target" / "test-logs"

# The secrets of the configurations the suite runs with (tests/support, scripts/
# gen_events.py, local/src/tenants.rs) and of the sandbox: tenant API keys, redirect keys,
# session keys, upstream credentials.
SECRETS = [
    "test-issuer-key-0001", "test-merchant-key-01", "other-merchant-key-1", "other-issuer-key-01",
    "shop-a-second-api-key-01",
    "events-api-key-0000001", "events-issuer-key-00001",
    "local-issuer-key-0000001", "local-merchant-key-000001", "local-merchant-key-000002",
    "sandbox-ahrvo-api-key", "sandbox-ahrvo-access-token", "sandbox-firstoken-api-key",
    "session-mac-key-for-tests-0123456789abcdef", "merchant-redirect-signing-key-0123456789",
    "other-merchant-redirect-key-0123456789", "the-new-redirect-key-of-shop-a-0123456",
    "events-session-mac-key-0123456789abcdef", "events-redirect-signing-key-0123456789",
    "local-dev-session-mac-key-not-for-production", "local-dev-redirect-key-demo-shop-0000001",
    "local-dev-redirect-key-demo-shop-b-00001",
    "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=", "ZXZlbnRzLXByb29mLWRhdGEta2V5LTMyLWJ5dGVzISE=",
    "bG9jYWwtZGV2LWtleS1ub3QtZm9yLXByb2R1Y3Rpb24=",
]

PATTERNS = {
    "expiry": re.compile(r"(?<![\d/])(0[1-9]|1[0-2])/(\d{4}|\d{2})(?![\d/])"),
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"),
    "bearer token": re.compile(r"[Bb]earer\s+[A-Za-z0-9._~+/=-]{8,}"),
    "security answer": re.compile(r'security_answer\\?"?\s*[:=]\s*\\?"(?!\[REDACTED\])'),
}
DIGIT_RUN = re.compile(r"(?<!\d)\d{13,19}(?!\d)")

# Routes whose requests concern one session or one card: once a request has been accepted
# (2xx/3xx), its lines must name it.
NAMED_BY = {
    "/v1/risk/authentication/setup": "reference_code",
    "/v1/risk/authentication/enroll": "reference_code",
    "/v1/risk/authentication/validate": "reference_code",
    "/v1/risk/authentication/{reference_code}": "reference_code",
    "/v1/risk/authentication/callback/{tenant}/{reference_code}/{binding}": "reference_code",
    "/card/issuance/api/issuing/3ds/v2/enroll": "card_id",
    "/card/issuance/api/issuing/3ds/v2/update": "card_id",
    "/card/issuance/api/issuing/3ds/v2/detail": "card_id",
}


def luhn(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# The sandbox's test cards: a log line must not hold them base64-encoded either.
TEST_CARDS = [
    "4000000000002701", "4000000000002925", "4000000000002719", "4000000000002313",
    "4000000000002537", "4000000000002503", "4000000000002370", "4000000000002420",
    "5200000000002235", "5200000000002276", "5200000000002151", "5200000000002490",
    "5200000000002664", "340000000002534", "340000000002237",
]
B64_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")


def base64_forms(text):
    """What `text` looks like inside any base64 (standard or URL-safe) blob, at each of the
    three alignments it can have there: the characters that depend on it alone."""
    forms = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + text.encode()).decode()
        # Drop the characters that mix in the padding before and the bytes after.
        start = (shift * 8 + 5) // 6
        end = len(encoded) - 4
        if end > start:
            core = encoded[start:end]
            forms.add(core)
            forms.add(core.replace("+", "-").replace("/", "_"))
    return forms


ENCODED = {form: "key or token (base64)" for secret in SECRETS for form in base64_forms(secret)}
ENCODED.update({form: "card number (base64)" for card in TEST_CARDS for form in base64_forms(card)})


def decoded_tokens(line):
    """The text of every base64-looking token of the line that decodes."""
    for token in B64_TOKEN.findall(line):
        body = token.rstrip("=")
        for alphabet in (base64.b64decode, base64.urlsafe_b64decode):
            for cut in range(4):
                candidate = body[: len(body) - cut] if cut else body
                try:
                    yield alphabet(candidate + "=" * (-len(candidate) % 4)).decode("latin-1")
                    break
                except (binascii.Error, ValueError):
                    continue


def plain_findings(text):
    for run in DIGIT_RUN.findall(text):
        if luhn(run):
            yield "card number"
    for kind, pattern in PATTERNS.items():
        if pattern.search(text):
            yield kind
    for secret in SECRETS:
        if secret in text:
            yield "key or token"


def findings(line):
    yield from plain_findings(line)
    for form, kind in ENCODED.items():
        if form in line:
            yield kind
    for text in decoded_tokens(line):
        for kind in plain_findings(text):
            yield f"{kind} (base64)"


def main():
    files = sorted(p for p in LOG_DIR.rglob("*") if p.is_file())
    if not files:
        sys.exit(f"no logs under {LOG_DIR}: nothing was captured, the scan cannot pass")
    problems, lines, ours, named, metric_lines = [], 0, 0, 0, 0
    for path in files:
        # Our processes write JSON lines; other tools in the same files (cargo's build
        # output under `cargo lambda watch`) write text, which is scanned but not parsed.
        strict_json = path.suffix == ".jsonl" or path.name.startswith("local-")
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            lines += 1
            where = f"{path.relative_to(LOG_DIR)}:{number}"
            scanned = line
            if line.startswith('{"') and '"_aws"' in line:
                # An embedded-metric line: its epoch-millisecond Timestamp is 13 digits,
                # which can pass Luhn; everything else in it is scanned.
                try:
                    metric = json.loads(line)
                    metric["_aws"].pop("Timestamp", None)
                    scanned = json.dumps(metric)
                except (json.JSONDecodeError, AttributeError, KeyError):
                    pass
            for kind in sorted(set(findings(scanned))):
                problems.append(f"{where}: {kind}")
            if not (strict_json or line.startswith("{")):
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                problems.append(f"{where}: not a JSON line")
                continue
            ours += 1
            if "_aws" in entry:
                # An embedded-metric line: only its declared dimensions and metrics.
                metric_lines += 1
                directive = entry["_aws"].get("CloudWatchMetrics", [{}])[0]
                declared = {"_aws", *[d for ds in directive.get("Dimensions", []) for d in ds],
                            *[m.get("Name") for m in directive.get("Metrics", [])]}
                if set(entry) - declared or "Timestamp" not in entry["_aws"]:
                    problems.append(f"{where}: a metric line with undeclared fields")
                continue
            for field in ("timestamp", "level"):
                if field not in entry:
                    problems.append(f"{where}: no {field}")
            span = entry.get("span")
            if span is None or span.get("name") != "request":
                continue
            if not span.get("request_id"):
                problems.append(f"{where}: a request's line without its request_id")
            named_by = NAMED_BY.get(span.get("route"))
            accepted = entry.get("message") == "request completed" and entry.get("status", 500) < 400
            if named_by and accepted:
                named += 1
                if not span.get(named_by):
                    problems.append(f"{where}: an accepted {span.get('route')} request without its {named_by}")
    print(f"scanned {lines} lines in {len(files)} files ({ours} JSON log lines, {metric_lines} of them "
          f"metrics; {named} accepted session/card requests checked for their reference_code/card_id)")
    if ours == 0 or named == 0:
        sys.exit("no request log lines were captured: the scan cannot pass")
    if problems:
        print("\n".join(problems[:200]))
        sys.exit(f"{len(problems)} problems in the logs")
    print("no card data, expiries, keys or tokens in the logs")


if __name__ == "__main__":
    main()
