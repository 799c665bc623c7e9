"""Builds the API contract, docs/openapi.json (OpenAPI 3.1), from what the code checks.

The tables the code keeps (error codes and their statuses, event types, currencies,
countries, call prefixes) are read from the Rust sources; the field rules are written
here as the patterns of shared/src/domain's checks. Rules a pattern cannot say are named
formats, which the fuzzer generates valid values for (scripts/contract_checks.py):
`card-number` (the Luhn check), `card-expiry` (not before this month), `date-of-birth`
(before today), `merchant-return-url` (an origin the tenant registered).

  python3 scripts/gen_openapi.py            # writes docs/openapi.json
  python3 scripts/gen_openapi.py --check    # fails if docs/openapi.json is not what it writes

tests/contract.rs holds the document to the route tables, the template, the error codes
and the event types; Schemathesis holds the functions' answers to it.
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "openapi.json"
CHECK = sys.argv[1:] == ["--check"]

# ---------------------------------------------------------------------------------------
# Tables read from the code (not guessed).
# ---------------------------------------------------------------------------------------

def read(path):
    with open(f"{ROOT}/{path}", encoding="utf-8") as f:
        return f.read()


error_rs = read("shared/src/error.rs")
ERROR_CODES = []  # (name, status)
for m in re.finditer(r'^\s*\w+ = \("([A-Z_]+)", (\d+), ', error_rs, re.M):
    ERROR_CODES.append((m.group(1), int(m.group(2))))
STATUS_OF = dict(ERROR_CODES)
assert len(ERROR_CODES) == 44, len(ERROR_CODES)

events_rs = read("shared/src/events/mod.rs")
EVENT_TYPES = re.findall(r'#\[serde\(rename = "([a-z_.]+)"\)\]', events_rs)
assert len(EVENT_TYPES) == 12, EVENT_TYPES

field_rs = read("shared/src/domain/field.rs")


def table(name):
    block = re.search(rf"const {name}: &\[&str\] = &\[(.*?)\];", field_rs, re.S).group(1)
    return re.findall(r'"([A-Z]+)"', block)


CURRENCIES = table("CURRENCIES")
COUNTRIES = table("COUNTRIES")
assert len(COUNTRIES) == 249 and "USD" in CURRENCIES

# The query parameters the gateway adds to the signed redirect: a return_url may not carry them.
RESERVED_PARAMS = re.findall(r'"([a-z_]+)"', re.search(r"const RESERVED_PARAMS: &\[&str\] = &\[(.*?)\];",
                                                        read("shared/src/redirect.rs"), re.S).group(1))
assert "signature" in RESERVED_PARAMS and "details" in RESERVED_PARAMS

wire_rs = read("shared/src/upstream/card_issuance/wire.rs")
CALL_PREFIXES = re.findall(r'"(\+\d+)"', re.search(r"CALL_PREFIXES: &\[&str\] = &\[(.*?)\];", wire_rs, re.S).group(1))
assert CALL_PREFIXES[0] == "+61"

# ---------------------------------------------------------------------------------------
# Patterns: what each field check of shared/src/domain/field.rs accepts. Values are
# trimmed (Unicode whitespace) before they are checked, so every pattern allows
# surrounding whitespace.
# ---------------------------------------------------------------------------------------

NC = r"\x00-\x1F\x7F-\x9F"  # char::is_control (general category Cc)


def anchored(core):
    return rf"^\s*(?:{core})\s*$"


def text_core(maximum):
    edge = rf"[^\s{NC}]"
    if maximum == 1:
        return edge
    return rf"{edge}(?:[^{NC}]{{0,{maximum - 2}}}{edge})?"


def text(maximum):
    """field::text: not blank, at most `maximum` characters once trimmed, no control character."""
    return anchored(text_core(maximum))


def identifier(maximum=64):
    return anchored(rf"[A-Za-z0-9_-]{{1,{maximum}}}")


def digits(low, high):
    return anchored(rf"[0-9]{{{low},{high}}}")


def one_of(options):
    return anchored("|".join(re.escape(o) for o in options))


def case_insensitive(word):
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


ROUTE_WORDS = ["setup", "enroll", "validate", "callback", "events"]
REFERENCE_CODE = anchored(
    r"(?!(?:" + "|".join(case_insensitive(w) for w in ROUTE_WORDS) + r")\s*$)"
    r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}"
)
TRANSACTION_ID = anchored(r"[A-Za-z0-9-]{1,64}")
TENANT_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
BINDING = r"^[A-Za-z0-9._-]{1,64}\.[A-Za-z0-9_-]{43}$"
PHONE = anchored(r"\+[0-9]{6,19}|[0-9]{6,20}")
AMOUNT = anchored(r"(?=[0-9.]{1,19}\s*$)(?![0.]*\s*$)[0-9]+(?:\.[0-9]{1,3})?")


def below(limit):
    """Numbers of len(limit) digits, first digit 1-9, below `limit`."""
    parts = []
    for i, d in enumerate(limit):
        low = 1 if i == 0 else 0
        high = int(d) - 1
        if high < low:
            continue
        rest = len(limit) - i - 1
        cls = f"[{low}-{high}]" if high > low else f"{low}"
        parts.append(limit[:i] + cls + (f"[0-9]{{{rest}}}" if rest else ""))
    return "(?:" + "|".join(parts) + ")"


# A consume's amount: the same, and its thousandths within i64 (Amount::thousandths).
I64_UNITS = "9223372036854775"
FRACTION = r"(?:\.[0-9]{1,3})?"
CONSUME_AMOUNT = anchored(
    r"(?=[0-9.]{1,19}\s*$)(?![0.]*\s*$)(?=[0-9])0*(?:"
    rf"(?:[1-9][0-9]{{0,14}})?{FRACTION}"
    rf"|{below(I64_UNITS)}{FRACTION}"
    rf"|{I64_UNITS}(?:\.(?:[0-7][0-9]{{0,2}}|8|80|80[0-7]))?"
    ")"
)
CURRENCY = anchored("|".join(CURRENCIES))
COUNTRY = anchored("|".join(COUNTRIES))
# The local part is at most 64 bytes: 64 ASCII characters, or 16 of any (4 bytes at most each).
EMAIL = (
    rf"^\s*(?=\S{{1,254}}\s*$)(?:[\x21-\x3F\x41-\x7E]{{1,64}}|[^\s@{NC}]{{1,16}})"
    rf"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\s*$"
)

# Dates the code compares with today (UTC) have the calendar's shape here; the comparison
# itself is the format's (`date-of-birth`, `card-expiry`), so the document never goes stale.
DAY_31 = r"(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
DAY_30 = r"(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
FEB = r"02-(?:0[1-9]|1[0-9]|2[0-8])"
# Leap years from 1900 on (the code refuses earlier dates): 19xx and 2xxx, and 2000.
LEAP_YEARS = r"(?:(?:19|2[0-9])(?:0[48]|[2468][048]|[13579][26])|2000)"
DATE_OF_BIRTH = anchored(
    rf"(?:19|2[0-9])[0-9]{{2}}-(?:{DAY_31}|{DAY_30}|{FEB})"
    rf"|{LEAP_YEARS}-02-29"
)
TOKEN = r"\{\{[^{}]{1,196}\}\}"
CARD_NUMBER = anchored(rf"[0-9]{{12,19}}|{TOKEN}")
EXPIRY = anchored(
    r"(?:0[1-9]|1[0-2])/(?:[0-9]{2}|20[0-9]{2})"
    rf"|{TOKEN}"
)
FIVE_DIGITS_U16 = r"(?:[0-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
TIME_OFFSET = anchored(
    rf"[0-9]{{1,4}}|{FIVE_DIGITS_U16}|0{FIVE_DIGITS_U16}|-(?:[0-9]{{1,4}}|{FIVE_DIGITS_U16})"
)
IDEMPOTENCY_KEY = r"^[\x21-\x7E]{1,255}$"
REQUEST_ID = r"^[A-Za-z0-9._:-]{1,64}$"
UPSTREAM_CODE = r"^[A-Z0-9_]{1,64}$"

for checked in [REFERENCE_CODE, CONSUME_AMOUNT, AMOUNT, EMAIL, DATE_OF_BIRTH, EXPIRY, TIME_OFFSET, text(64), CARD_NUMBER]:
    re.compile(checked)

# ---------------------------------------------------------------------------------------
# Schema helpers.
# ---------------------------------------------------------------------------------------


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def s(pattern=None, description=None, **extra):
    out = {"type": "string"}
    if description:
        out["description"] = description
    if pattern:
        out["pattern"] = pattern
    out.update(extra)
    return out


def textf(maximum, description=None, **extra):
    d = f"Free text: not blank, at most {maximum} characters once trimmed, no control characters."
    return s(text(maximum), f"{description} {d}" if description else d, **extra)


def nullable(schema):
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    out = dict(schema)
    t = out.get("type")
    if isinstance(t, str):
        out["type"] = [t, "null"]
    elif t is None:
        return {"anyOf": [schema, {"type": "null"}]}
    return out


def obj(properties, required=(), description=None, additional=True, **extra):
    out = {"type": "object"}
    if description:
        out["description"] = description
    out["properties"] = properties
    if required:
        out["required"] = list(required)
    if additional is False:
        out["additionalProperties"] = False
    out.update(extra)
    return out


DATE_TIME = {"type": "string", "format": "date-time"}
N_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}
N_STRING = {"type": ["string", "null"]}

# ---------------------------------------------------------------------------------------
# Schemas.
# ---------------------------------------------------------------------------------------

schemas = {}

schemas["ErrorCode"] = {
    "type": "string",
    "description": "Every code the gateway itself answers with (shared/src/error.rs), in its table's order. An upstream's refusal whose code is not one of these is passed on with the upstream's own code (UPPER_SNAKE, at most 64 characters).",
    "enum": [name for name, _ in ERROR_CODES],
    "x-status": {name: status for name, status in ERROR_CODES},
}
schemas["CardIssuanceError"] = obj(
    {
        "code": {"anyOf": [ref("ErrorCode"), s(UPSTREAM_CODE, "An upstream's own code, passed on.")]},
        "message": s(description="The gateway's own message (never an upstream's free text)."),
        "field": s(description="The field that failed its check (INVALID_PARAMETER): `card_id`, `items[3].card_id`, `lines[7].card_id`, `Idempotency-Key`."),
        "request_id": s(REQUEST_ID, "The request's id, as in the x-request-id header."),
    },
    ["code", "message", "request_id"],
    "The card-issuance API's error envelope (card programs): `{code, message, field?, request_id}`.",
)
schemas["PayerAuthError"] = obj(
    {
        "status": {"type": "string", "enum": ["fail", "error"], "description": "`error` for a 5xx status, `fail` otherwise."},
        "message": s(description="The gateway's own message."),
        "error": obj(
            {
                "reason": {"anyOf": [ref("ErrorCode"), s(UPSTREAM_CODE, "An upstream's own code, passed on.")]},
                "message": s(description="The same message."),
                "field": s(description="The field that failed its check (INVALID_PARAMETER): `card.number`, `authentication.return_url`, `reference_code`."),
            },
            ["reason", "message"],
        ),
        "request_id": s(REQUEST_ID, "The request's id, as in the x-request-id header."),
    },
    ["status", "message", "error", "request_id"],
    "The payer-authentication API's error envelope (merchants): `{status, message, error: {reason, message, field?}, request_id}`.",
)
schemas["CallersOwnError"] = {
    "description": "Routes every tenant calls answer in the caller's own envelope: the card-issuance one for a key of a card program (issuer role only), the payer-authentication one for any other caller (a merchant, a tenant with both roles, or no valid key).",
    "oneOf": [ref("CardIssuanceError"), ref("PayerAuthError")],
}
schemas["ErrorPage"] = s(description="A plain HTML page (no script, no echo of the request) saying what went wrong, with the request id as its reference.")

# Shared vocabulary.
schemas["SessionState"] = {
    "type": "string",
    "enum": ["SETUP_COMPLETED", "ENROLLING", "CHALLENGE_PENDING", "VALIDATING", "AUTHENTICATED", "FAILED", "EXPIRED", "CANCELED"],
    "description": "An authentication session's state (shared/src/session/state.rs). A challenge past its deadline is reported EXPIRED.",
}
schemas["Flow"] = {"type": "string", "enum": ["frictionless", "challenge"], "description": "Decided straight from check enroll, or after the cardholder's challenge."}
schemas["Reason"] = {
    "type": "string",
    "enum": ["NOT_AUTHENTICATED", "AUTHENTICATION_REJECTED", "AUTHENTICATION_UNAVAILABLE", "CHALLENGE_EXPIRED", "CANCELED_BY_MERCHANT"],
    "description": "Why an authentication did not succeed (FAILED: by pares_status N/none, R, U; EXPIRED; CANCELED).",
}
schemas["LiabilityShift"] = {
    "type": ["boolean", "null"],
    "description": "Whether liability moved to the issuer (ECI 05/06; Mastercard eci_raw 01/02); null while unknown (pending, expired, canceled).",
}
schemas["Amount"] = obj(
    {
        "total_amount": s(description="A decimal amount as sent, trimmed (`1000`, `10.50`)."),
        "currency": s(description="ISO 4217 code."),
    },
    ["total_amount", "currency"],
    "An amount and its currency.",
)
schemas["Outcome"] = obj(
    {
        "state": ref("SessionState"),
        "flow": ref("Flow"),
        "reason": nullable(ref("Reason")),
        "liability_shift": ref("LiabilityShift"),
    },
    ["state", "flow", "liability_shift"],
    "An authentication's outcome at one moment (shared/src/session/outcome.rs): the one view the status route, the listing, the events and the signed redirect render.",
)
AUTH_RESULT_FIELDS = [
    "eci", "eci_raw", "cavv", "xid", "pares_status", "veres_enrolled", "commerce_indicator",
    "authentication_transaction_id", "specification_version", "signed_pares_status_reason",
    "tree_dss_server_transaction_id", "directory_server_transaction_id", "acs_transaction_id",
    "acs_reference_number",
]
schemas["AuthenticationResult"] = obj(
    {
        **{f: N_STRING for f in AUTH_RESULT_FIELDS},
        "liability_shift": {"type": "boolean"},
        "authentication_values": {"type": "string", "enum": ["not_available"], "description": "Present when the sealed CAVV and XID could not be opened (they are then null)."},
    },
    AUTH_RESULT_FIELDS + ["liability_shift"],
    "Every result field of check enroll and validate, named as the upstream names them (null when it gave none). After a challenge, validate's result completed with what only check enroll said.",
)
schemas["Authorization"] = obj(
    {
        "network": nullable(s(description="`VISA`, `MASTERCARD`, `AMEX`, ...")),
        "authentication_status": nullable(s(description="The final transStatus: `Y` or `A`.")),
        "ares_trans_status": nullable(s(description="The ARes transStatus: `C` for a challenge, the final status when frictionless.")),
        "rreq_trans_status": nullable(s(description="The challenge result's transStatus; null when frictionless.")),
        "trans_status_reason": N_STRING,
        "cryptogram": nullable(s(description="The CAVV (AAV, AEVV), base64.")),
        "eci": N_STRING,
        "directory_server_transaction_id": N_STRING,
        "three_ds_version": N_STRING,
        "xid": N_STRING,
        "commerce_indicator": N_STRING,
        "veres_enrolled": N_STRING,
        "liability_shift": {"type": "boolean"},
        "authenticated_amount": nullable(ref("Amount")),
        "authentication_values": {"type": "string", "enum": ["not_available"]},
    },
    ["network", "authentication_status", "ares_trans_status", "rreq_trans_status", "trans_status_reason", "cryptogram", "eci",
     "directory_server_transaction_id", "three_ds_version", "xid", "commerce_indicator", "veres_enrolled", "liability_shift",
     "authenticated_amount"],
    "What an acquirer needs of an authenticated result (shared/src/session/authorization.rs, docs/authorization.md); only an authenticated session has one.",
)
schemas["AcquirerFormat"] = {"type": "string", "enum": ["stripe", "adyen", "cybersource"]}
schemas["External3ds"] = obj(
    {
        "format": ref("AcquirerFormat"),
        "fields": {"type": ["object", "null"], "description": "The authorization in that acquirer's external-3DS fields (Stripe `payment_method_options.card.three_d_secure`, Adyen `mpiData`, Cybersource `consumerAuthenticationInformation` and `processingInformation`); null when not authenticated."},
    },
    ["format", "fields"],
)
schemas["CardView"] = obj(
    {"bin": N_STRING, "last4": N_STRING, "network": N_STRING},
    ["bin", "last4", "network"],
    "BIN, last four and network; never the number or expiry.",
)
schemas["ConsumptionView"] = obj(
    {"consumed_at": DATE_TIME, "order_id": N_STRING, "amount": nullable(ref("Amount"))},
    ["consumed_at", "order_id", "amount"],
    "When, and by which order, the authenticated result was used.",
)
schemas["AuthenticationStatus"] = {
    "allOf": [
        ref("Outcome"),
        obj(
            {
                "reference_code": s(),
                "created_at": DATE_TIME,
                "updated_at": DATE_TIME,
                "card": ref("CardView"),
                "challenge_deadline": DATE_TIME,
                "authentication_transaction_id": s(),
                "transaction_status": s(description="The upstream's transaction_info.status (`Authentication_successful`, ...)."),
                "authentication": ref("AuthenticationResult"),
                "authenticated_amount": nullable(ref("Amount")),
                "consumption": nullable(ref("ConsumptionView")),
                "authorization": nullable(ref("Authorization")),
                "external_3ds": ref("External3ds"),
            },
            ["reference_code", "created_at", "updated_at", "card", "authenticated_amount", "consumption", "authorization"],
        ),
    ],
    "description": "The stored state and result of an authentication: never the card number, expiry or tokens. `external_3ds` only with `?format=`.",
}
schemas["AuthenticationStatusAnswer"] = obj(
    {
        "status": {"type": "string", "const": "success"},
        "message": s(),
        "data": ref("AuthenticationStatus"),
    },
    ["status", "message", "data"],
)
schemas["AuthenticationSummary"] = {
    "allOf": [
        ref("Outcome"),
        obj(
            {
                "reference_code": s(),
                "created_at": DATE_TIME,
                "updated_at": DATE_TIME,
                "network": N_STRING,
                "eci": N_STRING,
                "directory_server_transaction_id": N_STRING,
                "specification_version": N_STRING,
                "authenticated_amount": nullable(ref("Amount")),
                "consumed_at": N_DATE_TIME,
                "reason": nullable(ref("Reason")),
            },
            ["reference_code", "reason", "created_at", "updated_at", "network", "eci", "directory_server_transaction_id",
             "specification_version", "authenticated_amount", "consumed_at"],
        ),
    ],
    "description": "One authentication in the listing: its outcome, no card data.",
}
def listing(items, item_schema, cursor):
    """A page of a listing in the payer-authentication envelope: its items, whether more
    follow, and the cursor of the next page (`after`)."""
    return obj(
        {
            "status": {"type": "string", "const": "success"},
            "message": s(),
            "data": obj(
                {
                    items: {"type": "array", "items": ref(item_schema)},
                    "has_more": {"type": "boolean"},
                    "next_after": nullable(s(description=cursor)),
                },
                [items, "has_more", "next_after"],
            ),
        },
        ["status", "message", "data"],
    )


schemas["AuthenticationList"] = listing("authentications", "AuthenticationSummary",
                                        "The cursor of the next page (`after`); null on the last.")

# Payer-authentication requests (shared/src/merchant/requests.rs).
REF_DESC = "1 to 64 of letters, digits and `_ . : -`, starting with a letter or digit, not a route word (setup, enroll, validate, callback, events, in any case); trimmed. Per tenant."


def transaction_info(kind):
    return obj(
        {
            "type": s(anchored(re.escape(kind)), f"Must be `{kind}`."),
            "reference_code": s(REFERENCE_CODE, REF_DESC),
        },
        ["type", "reference_code"],
    )


schemas["Currency"] = s(CURRENCY, "An active ISO 4217 currency code (funds, metals and test codes excluded).", examples=["USD"])
schemas["Country"] = s(COUNTRY, "An ISO 3166-1 alpha-2 country code (the 249 assigned).", examples=["US"])
schemas["Email"] = s(EMAIL, "An email address: at most 254 characters, no whitespace, a local part of 1 to 64 bytes, a dotted domain of letters, digits and `-`.", examples=["ada@example.com"])
schemas["Phone"] = s(PHONE, "An optional `+` and 6 to 20 digits (20 characters at most).", examples=["+12125551234"])
schemas["ReferenceCode"] = s(REFERENCE_CODE, REF_DESC, examples=["order-1001"])
schemas["Card"] = obj(
    {
        "number": s(CARD_NUMBER, "12 to 19 digits passing the Luhn check (the `card-number` format), or a token expression `{{token_id : detokenize}}` (at most 200 characters, no braces inside).", format="card-number", examples=["4000000000002701"]),
        "expiration_date": s(EXPIRY, "`MM/YY` or `MM/YYYY`, not before this month (UTC) and at most 30 years ahead (the `card-expiry` format), or a token expression.", format="card-expiry", examples=["12/2045"]),
    },
    ["number", "expiration_date"],
)
schemas["OrderInfo"] = obj(
    {
        "amount_details": obj(
            {
                "total_amount": s(AMOUNT, "A positive decimal: digits, optionally `.` and 1 to 3 decimals, at most 19 characters.", examples=["10.50"]),
                "currency": ref("Currency"),
            },
            ["total_amount", "currency"],
        )
    },
    ["amount_details"],
)
schemas["BillTo"] = obj(
    {
        "first_name": textf(60),
        "last_name": textf(60),
        "country": ref("Country"),
        "address_1": textf(60),
        "address_2": {"type": ["string", "null"], "pattern": anchored(f"(?:{text_core(60)})?"), "description": "Optional: blank or null, or free text of at most 60 characters."},
        "city": textf(50),
        "state": textf(20),
        "phone_number": ref("Phone"),
        "email": ref("Email"),
        "postal_code": textf(10),
    },
    ["first_name", "last_name", "country", "address_1", "city", "state", "phone_number", "email", "postal_code"],
    "Billing details (sealed at rest between check enroll and validate).",
)
schemas["SetupRequest"] = obj(
    {"transaction_info": transaction_info("setup"), "card": ref("Card")},
    ["transaction_info", "card"],
    "The payer-authentication API's setup body. Other fields are dropped, not refused.",
    examples=[{
        "transaction_info": {"type": "setup", "reference_code": "order-1001"},
        "card": {"number": "4000000000002701", "expiration_date": "12/2045"},
    }],
)
schemas["CompletionMode"] = {
    "type": ["string", "null"],
    "enum": ["redirect", "top", "post_message", None],
    "description": "The gateway's added field (never sent upstream): how the challenge ends. `redirect`: a signed 303 to the return URL in the frame; `top`: a page sending the top window there; `post_message`: a page posting the signed result to the parent window (gateway.js). Absent or null: the merchant's default.",
}
schemas["CheckEnrollRequest"] = obj(
    {
        "transaction_info": transaction_info("check_enroll"),
        "card": ref("Card"),
        "order_info": ref("OrderInfo"),
        "bill_to": ref("BillTo"),
        "buyer_info": obj({"mobile_phone": ref("Phone")}, ["mobile_phone"]),
        "device_info": obj(
            {
                "ip_address": {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}], "maxLength": 45, "description": "An IPv4 or IPv6 address."},
                "http_browser_color_depth": s(digits(1, 3), "1 to 3 digits."),
                "http_browser_java_enabled": {"type": "boolean"},
                "http_browser_js_enabled": {"type": "boolean"},
                "http_browser_screen_height": s(digits(1, 6), "1 to 6 digits."),
                "http_browser_screen_width": s(digits(1, 6), "1 to 6 digits."),
                "http_browser_time_offset": s(TIME_OFFSET, "Whole minutes, maybe negative, within -65535..65535, at most 6 characters."),
                "user_agent": textf(2048),
                "cookies_accepted": {"type": "boolean"},
                "http_browser_language": textf(16),
                "http_accept_content": textf(256),
            },
            ["ip_address", "http_browser_color_depth", "http_browser_java_enabled", "http_browser_js_enabled",
             "http_browser_screen_height", "http_browser_screen_width", "http_browser_time_offset", "user_agent",
             "cookies_accepted", "http_browser_language", "http_accept_content"],
            "Browser data (three JSON booleans, the rest strings).",
        ),
        "authentication": obj(
            {
                "reference_id": textf(64, "The setup answer's consumer_auth_info.reference_id."),
                "return_url": textf(2048, f"The merchant's return URL: absolute, https (http only to a loopback host where the deployment allows it), no credentials, no fragment, no reserved query parameter ({', '.join(RESERVED_PARAMS)}), no parameter twice, UTF-8 once decoded, and its origin one of the tenant's return_origins (the `merchant-return-url` format). The upstream gets the gateway's own return URL instead.", format="merchant-return-url"),
                "device_channel": s(one_of(["Browser", "SDK", "3RI"]), "`Browser`, `SDK` or `3RI`."),
                "mode": textf(8),
                "token": textf(512),
            },
            ["reference_id", "return_url", "device_channel", "mode", "token"],
        ),
        "completion": ref("CompletionMode"),
    },
    ["transaction_info", "card", "order_info", "bill_to", "buyer_info", "device_info", "authentication"],
    "The payer-authentication API's check-enroll body, plus `completion`. Fields the upstream documents are forwarded as parsed; others are dropped, not refused.",
    examples=[{
        "transaction_info": {"type": "check_enroll", "reference_code": "order-1001"},
        "card": {"number": "4000000000002701", "expiration_date": "12/2045"},
        "order_info": {"amount_details": {"total_amount": "10.50", "currency": "USD"}},
        "bill_to": {"first_name": "Ada", "last_name": "Lovelace", "country": "US", "address_1": "1 Main St", "city": "Springfield",
                    "state": "IL", "phone_number": "+12125551234", "email": "ada@example.com", "postal_code": "62701"},
        "buyer_info": {"mobile_phone": "+12125551234"},
        "device_info": {"ip_address": "190.123.237.237", "http_browser_color_depth": "24", "http_browser_java_enabled": False,
                        "http_browser_js_enabled": True, "http_browser_screen_height": "1080", "http_browser_screen_width": "1920",
                        "http_browser_time_offset": "-300", "user_agent": "Mozilla/5.0", "cookies_accepted": True,
                        "http_browser_language": "en-US", "http_accept_content": "text/html"},
        "authentication": {"reference_id": "0b1a2c3d-reference-id", "return_url": "http://127.0.0.1:3000/demo/result",
                           "device_channel": "Browser", "mode": "S", "token": "setup-token"},
        "completion": "redirect",
    }],
)
schemas["ValidateRequest"] = obj(
    {
        "transaction_info": transaction_info("validate_result"),
        "card": ref("Card"),
        "order_info": ref("OrderInfo"),
        "bill_to": ref("BillTo"),
        "authentication": obj(
            {"transaction_id": s(TRANSACTION_ID, "The challenge's transaction id: 1 to 64 letters, digits and `-`; it must be the one check enroll gave this session.")},
            ["transaction_id"],
        ),
    },
    ["transaction_info", "card", "order_info", "bill_to", "authentication"],
    "The payer-authentication API's validate body.",
)
schemas["ConsumeRequest"] = {
    "type": "object",
    "description": "All optional (the body may be empty). `amount` and `currency` come together: at most the authenticated amount, in its currency (else 400 with `field`).",
    "properties": {
        "order_id": {"type": ["string", "null"], "pattern": text(64), "description": "The order that uses the authentication: free text of at most 64 characters, not blank."},
        "amount": {"type": ["string", "null"], "pattern": CONSUME_AMOUNT, "description": "A positive decimal of at most 3 decimals and 19 characters, at most 9223372036854775.807."},
        "currency": {"type": ["string", "null"], "pattern": CURRENCY, "description": "An active ISO 4217 code."},
    },
    "additionalProperties": False,
    "allOf": [
        {"if": {"required": ["amount"], "properties": {"amount": {"type": "string"}}, "unevaluatedProperties": True},
         "then": {"required": ["currency"], "properties": {"currency": {"type": "string"}}, "unevaluatedProperties": True},
         "unevaluatedProperties": True},
        {"if": {"required": ["currency"], "properties": {"currency": {"type": "string"}}, "unevaluatedProperties": True},
         "then": {"required": ["amount"], "properties": {"amount": {"type": "string"}}, "unevaluatedProperties": True},
         "unevaluatedProperties": True},
    ],
    "examples": [{"order_id": "order-1001", "amount": "10.50", "currency": "USD"}],
}

# Payer-authentication answers: the upstream's, forwarded (plus what the gateway adds).
SUCCESS_ANY_CASE = r"^[Ss][Uu][Cc][Cc][Ee][Ss][Ss]$"
schemas["PayerAuthTransactionInfo"] = obj(
    {
        "type": s(), "transaction_id": s(), "reference_code": s(), "request_id": s(),
        "status": s(description="`Completed` (setup), `Authentication_successful`, `Pending_authentication`, `Authentication_failed`."),
        "created_at": s(),
    },
    ["status"],
)
schemas["SetupAnswer"] = obj(
    {
        "status": s(SUCCESS_ANY_CASE),
        "message": s(),
        "data": obj(
            {
                "transaction_info": ref("PayerAuthTransactionInfo"),
                "consumer_auth_info": obj(
                    {"access_token": s(), "device_data_collection_url": s(), "reference_id": s(), "token": s()},
                ),
            },
        ),
    },
    ["status"],
    "The upstream's setup answer, as it gave it (a replay returns the stored one).",
)
schemas["CheckEnrollAnswer"] = obj(
    {
        "status": s(SUCCESS_ANY_CASE),
        "message": s(),
        "data": obj(
            {
                "transaction_info": ref("PayerAuthTransactionInfo"),
                "card": obj({"bin": s(), "type": s()}),
                "consumer_auth_info": obj(
                    {
                        **{f: s() for f in ["eci", "eci_raw", "cavv", "xid", "pares_status", "veres_enrolled", "commerce_indicator",
                                            "authentication_transaction_id", "specificationVersion", "signed_pares_status_reason",
                                            "tree_dss_server_transaction_id", "directory_server_transaction_id", "acs_transaction_id",
                                            "acs_reference_number", "acs_url", "pareq", "stepup_url", "access_token", "token",
                                            "challenge_required"]},
                        "challenge_window_size": {"type": "string", "enum": ["01", "02", "03", "04", "05"], "description": "Added by the gateway when a challenge is needed: decoded from the pareq (EMV 3DS window size)."},
                    },
                ),
                "error": obj({"reason": s(), "message": s()}),
            },
            ["transaction_info"],
        ),
    },
    ["status", "data"],
    "The upstream's check-enroll answer, as it gave it (the gateway adds `consumer_auth_info.challenge_window_size` to a challenge). `Pending_authentication` means a challenge.",
)
schemas["ValidateAnswer"] = obj(
    {
        "status": s(SUCCESS_ANY_CASE),
        "message": s(),
        "data": obj(
            {
                "transaction_info": ref("PayerAuthTransactionInfo"),
                "card": obj({"bin": s(), "type": s()}),
                "consumer_auth_info": obj({}, description="The result fields, as check enroll's."),
            },
            ["transaction_info"],
        ),
    },
    ["status", "data"],
    "The upstream's validate answer, as it gave it (a replay returns the stored one).",
)

# Card-issuance requests (shared/src/upstream/card_issuance/wire.rs, functions/enroll).
CARD_ID = s(identifier(), "1 to 64 letters, digits, `-` and `_` (trimmed).", examples=["card59202507231957437131"])
CARDHOLDER_ID = s(identifier(), "1 to 64 letters, digits, `-` and `_` (trimmed).", examples=["471041678120300545"])
BUDGET_ID = s(identifier(), "1 to 64 letters, digits, `-` and `_` (trimmed); one of the caller's budgets.", examples=["ci202008281528472924"])
schemas["CardId"] = CARD_ID
schemas["CardholderId"] = CARDHOLDER_ID
schemas["BudgetId"] = BUDGET_ID
CONTACT = {
    "call_prefix": s(one_of(CALL_PREFIXES), "One of " + ", ".join(CALL_PREFIXES) + "."),
    "mobile": s(digits(4, 15), "4 to 15 digits."),
    "email": ref("Email"),
    "date_of_birth": s(DATE_OF_BIRTH, "`YYYY-MM-DD`, a real date from 1900 and before today (UTC; the `date-of-birth` format).", format="date-of-birth"),
    "state": textf(64),
    "city": textf(64),
    "address_line": textf(128),
    "post_code": textf(16),
    "country_code": ref("Country"),
    "security_index": s(digits(1, 2), "1 or 2 digits: the security question."),
    "security_answer": textf(64, "Never returned (redacted in every answer)."),
}
CONTACT_REQUIRED = list(CONTACT)
CONTACT_EXAMPLE = {
    "call_prefix": "+1", "mobile": "2125551234", "email": "ada@example.com", "date_of_birth": "1990-10-31",
    "state": "NY", "city": "New York", "address_line": "1 Main St", "post_code": "10001", "country_code": "US",
    "security_index": "1", "security_answer": "Rex",
}
schemas["CardEnrollmentRequest"] = obj(
    {"card_id": ref("CardId"), "cardholder_id": ref("CardholderId")},
    ["card_id", "cardholder_id"],
    "A card of the caller's budgets and a cardholder of the caller's.",
    examples=[{"card_id": "card59202507231957437131", "cardholder_id": "471041678120300545"}],
)
schemas["UnenrollRequest"] = obj({"card_id": ref("CardId")}, ["card_id"], examples=[{"card_id": "card59202507231957437131"}])
schemas["BatchEnrollRequest"] = obj(
    {"items": {"type": "array", "minItems": 1, "maxItems": 100, "items": ref("CardEnrollmentRequest"), "description": "1 to 100 items; a card may appear once only (a repeated card_id is refused, `items[i].card_id`)."}},
    ["items"],
)
schemas["BatchStatusRequest"] = obj(
    {"card_ids": {"type": "array", "minItems": 1, "maxItems": 100, "items": ref("CardId"), "description": "1 to 100 card ids (repeats are answered once)."}},
    ["card_ids"],
)
schemas["CreateCardholderRequest"] = obj(
    {"budget_id": ref("BudgetId"), "first_name": textf(64), "last_name": textf(64), **CONTACT},
    ["budget_id", "first_name", "last_name"] + CONTACT_REQUIRED,
    "Creates the 3DS contact of a cardholder in one of the caller's budgets (another budget: 404 BUDGET_NOT_FOUND).",
    examples=[{"budget_id": "ci202008281528472924", "first_name": "Ada", "last_name": "Lovelace", **CONTACT_EXAMPLE}],
)
schemas["UpdateCardholderRequest"] = obj(
    {"cardholder_id": ref("CardholderId"), **CONTACT},
    ["cardholder_id"] + CONTACT_REQUIRED,
    "Replaces the contact of one of the caller's cardholders (name and budget stay).",
    examples=[{"cardholder_id": "471041678120300545", **CONTACT_EXAMPLE}],
)

# Card-issuance answers.
schemas["CardIssuanceAnswer"] = obj(
    {"code": {"type": "string", "const": "SUCCESS"}, "data": {"description": "The upstream's data, passed on (security answers redacted)."}},
    ["code"],
    "The card-issuance API's success envelope, passed on.",
)
schemas["EnrollAnswer"] = obj(
    {
        "code": {"type": "string", "const": "SUCCESS"},
        "data": obj({"isSuccess": {"type": "boolean"}, "reconciled": {"type": "boolean", "const": True, "description": "The upstream answered 409 for this same cardholder (a retry after a timeout): enrolled."}}),
    },
    ["code"],
)
schemas["Contact"] = obj(
    {
        "cardholder_id": s(), "budget_id": s(), "first_name": s(), "last_name": s(), "email": s(), "call_prefix": s(),
        "mobile": s(), "date_of_birth": s(), "country": s(), "country_code": s(), "state": s(), "city": s(),
        "address_line": s(), "post_code": s(), "security_index": s(), "security_question": s(),
        "security_answer": {"type": "string", "const": "[REDACTED]"},
    },
    description="A cardholder's 3DS contact as the upstream gives it; `security_answer` is always redacted.",
)
schemas["EnrollmentDetailAnswer"] = obj({"code": {"type": "string", "const": "SUCCESS"}, "data": ref("Contact")}, ["code"])
schemas["CreateCardholderAnswer"] = obj(
    {"code": {"type": "string", "const": "SUCCESS"}, "data": obj({"cardholder_id": s()})},
    ["code"],
)
schemas["CardholderListAnswer"] = obj(
    {
        "code": {"type": "string", "const": "SUCCESS"},
        "data": obj({"total": {"type": "integer"}, "list": {"type": "array", "items": ref("Contact"), "description": "Only contacts of the caller's budgets."}}),
    },
    ["code"],
)
schemas["EnrollmentStatus"] = {
    "type": "string",
    "enum": ["ENROLLED", "UNENROLLED", "NOT_ENROLLED"],
    "description": "From the gateway's own record: NOT_ENROLLED when it has none.",
}
schemas["CardStatus"] = obj(
    {
        "card_id": s(),
        "enrolled": {"type": "boolean"},
        "status": ref("EnrollmentStatus"),
        "cardholder_id": N_STRING,
        "enrolled_at": DATE_TIME,
        "updated_at": DATE_TIME,
        "confirmed_at": nullable(s(description="The upstream's last confirmation.", format="date-time")),
        "refreshed": {"type": "boolean", "const": True, "description": "With `refresh=true`."},
        "differed": {"type": "boolean", "description": "With `refresh=true`: the record differed from the upstream and was brought in line."},
    },
    ["card_id", "enrolled", "status"],
    "A card's 3DS status from the gateway's record; no contact detail. `cardholder_id`, `enrolled_at`, `updated_at` and `confirmed_at` when there is a record.",
)
schemas["CardStatusAnswer"] = obj({"code": {"type": "string", "const": "SUCCESS"}, "data": ref("CardStatus")}, ["code", "data"])
schemas["CardStatusBatchAnswer"] = obj(
    {
        "code": {"type": "string", "const": "SUCCESS"},
        "data": obj(
            {
                "total": {"type": "integer", "minimum": 0},
                "results": {
                    "type": "array",
                    "items": {
                        "anyOf": [
                            ref("CardStatus"),
                            obj({"card_id": s(), "status": {"type": "string", "const": "UNKNOWN"}}, ["card_id", "status"], "No record of the caller's for this card."),
                        ]
                    },
                },
            },
            ["total", "results"],
        ),
    },
    ["code", "data"],
)
schemas["BatchEnrollAnswer"] = obj(
    {
        "code": {"type": "string", "const": "SUCCESS"},
        "data": obj(
            {
                "total": {"type": "integer", "minimum": 0},
                "enrolled": {"type": "integer", "minimum": 0},
                "failed": {"type": "integer", "minimum": 0},
                "timed_out": {"type": "integer", "minimum": 0},
                "results": {
                    "type": "array",
                    "items": obj(
                        {
                            "card_id": s(),
                            "cardholder_id": s(),
                            "status": {"type": "string", "enum": ["ENROLLED", "FAILED", "TIMEOUT"], "description": "TIMEOUT: not finished by the batch's deadline (25 s); safe to resend."},
                            "http_status": {"type": "integer", "description": "FAILED: the status the single route would have answered."},
                            "code": s(description="FAILED: the error code."),
                            "message": s(),
                        },
                        ["card_id", "cardholder_id", "status"],
                    ),
                    "description": "One result per item, in order; one failure never fails the rest.",
                },
            },
            ["total", "enrolled", "failed", "timed_out", "results"],
        ),
    },
    ["code", "data"],
)

# Jobs (functions/jobs/src/api.rs, shared/src/jobs).
schemas["JobItemLine"] = {
    "type": "object",
    "description": "One item: a card and either an existing cardholder (`cardholder_id`) or one to create (`cardholder`, with a budget of the caller's; another budget is refused, `items[i].cardholder.budget_id`). A card may appear once per job.",
    "properties": {
        "card_id": ref("CardId"),
        "cardholder_id": {"type": ["string", "null"], "pattern": identifier(), "description": "1 to 64 letters, digits, `-` and `_`."},
        "cardholder": {"anyOf": [ref("CreateCardholderRequest"), {"type": "null"}]},
    },
    "required": ["card_id"],
    "additionalProperties": False,
    "if": {"required": ["cardholder_id"], "properties": {"cardholder_id": {"type": "string"}}, "unevaluatedProperties": True},
    "then": {"properties": {"cardholder": {"type": "null"}}, "unevaluatedProperties": True},
    "else": {"required": ["cardholder"], "properties": {"cardholder": {"type": "object"}}, "unevaluatedProperties": True},
}
schemas["CreateJobRequest"] = {
    "type": "object",
    "description": "Either `items` (1 to 1,000, checked and queued at once) or `upload` (a presigned URL to PUT a CSV or JSON-lines file to, then `start`), not both.",
    "properties": {
        "items": {"type": ["array", "null"], "minItems": 1, "maxItems": 1000, "items": ref("JobItemLine")},
        "upload": {
            "type": ["object", "null"],
            "properties": {"format": {"type": "string", "enum": ["csv", "jsonl", "json_lines"], "description": "`csv` (a header row: card_id, and cardholder_id or every contact column) or `jsonl` (one item per line)."}},
            "required": ["format"],
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
    "if": {"required": ["items"], "properties": {"items": {"type": "array"}}, "unevaluatedProperties": True},
    "then": {"properties": {"upload": {"type": "null"}}, "unevaluatedProperties": True},
    "else": {"required": ["upload"], "properties": {"upload": {"type": "object"}}, "unevaluatedProperties": True},
    "examples": [{"items": [{"card_id": "card59202507231957437131", "cardholder_id": "471041678120300545"}]}, {"upload": {"format": "csv"}}],
}
schemas["JobState"] = {"type": "string", "enum": ["awaiting_upload", "queued", "running", "completed", "completed_with_errors", "canceled", "failed"]}
schemas["Job"] = obj(
    {
        "job_id": s(description="A UUID.", format="uuid"),
        "state": ref("JobState"),
        "format": {"type": "string", "enum": ["csv", "jsonl"]},
        "total": {"type": "integer", "minimum": 0},
        "counts": obj(
            {
                "enrolled": {"type": "integer"},
                "reconciled": {"type": "integer", "description": "Of the enrolled: enrolled already upstream (reconciled)."},
                "failed": {"type": "integer"},
                "pending": {"type": "integer", "description": "Items not finished (while the job may still run)."},
                "not_run": {"type": "integer", "description": "Items not finished, of a canceled or failed job."},
            },
            ["enrolled", "reconciled", "failed"],
        ),
        "progress": {"type": "number", "minimum": 0, "maximum": 1},
        "created_at": DATE_TIME,
        "started_at": N_DATE_TIME,
        "finished_at": N_DATE_TIME,
        "estimated_finish_at": N_DATE_TIME,
        "failure": N_STRING,
        "upload": obj(
            {
                "method": {"type": "string", "const": "PUT"},
                "url": s(description="The presigned URL to PUT the file to.", format="uri"),
                "expires_at": DATE_TIME,
                "max_bytes": {"type": "integer"},
                "then": s(description="The start route to call once uploaded."),
            },
            ["method", "url", "expires_at", "max_bytes", "then"],
            "A job awaiting its upload.",
        ),
    },
    ["job_id", "state", "format", "total", "counts", "progress", "created_at", "started_at", "finished_at", "estimated_finish_at", "failure"],
    "A bulk enrollment job as its program sees it.",
)
schemas["JobAnswer"] = obj({"code": {"type": "string", "const": "SUCCESS"}, "data": ref("Job")}, ["code", "data"])
schemas["ItemState"] = {"type": "string", "enum": ["pending", "enrolled", "failed"]}
schemas["JobItemsAnswer"] = obj(
    {
        "code": {"type": "string", "const": "SUCCESS"},
        "data": obj(
            {
                "job_id": s(format="uuid"),
                "state": ref("ItemState"),
                "items": {
                    "type": "array",
                    "items": obj(
                        {
                            "line": {"type": "integer"},
                            "card_id": s(),
                            "cardholder_id": N_STRING,
                            "state": ref("ItemState"),
                            "reconciled": {"type": "boolean"},
                            "attempts": {"type": "integer"},
                            "code": N_STRING,
                            "message": N_STRING,
                            "updated_at": DATE_TIME,
                        },
                        ["line", "card_id", "cardholder_id", "state", "reconciled", "attempts", "code", "message", "updated_at"],
                    ),
                },
                "has_more": {"type": "boolean"},
                "next_after": {"type": ["integer", "null"], "description": "The `after` of the next page (a line number)."},
            },
            ["job_id", "state", "items", "has_more", "next_after"],
        ),
    },
    ["code", "data"],
)

# Events (shared/src/events).
schemas["EventType"] = {
    "type": "string",
    "enum": EVENT_TYPES,
    "description": "An event's `type`. `authentication.*` go to a merchant's webhook, the others to a card program's.",
}
schemas["AuthenticationEventData"] = {
    "allOf": [
        ref("Outcome"),
        obj(
            {
                "reference_code": s(),
                "transaction_status": N_STRING,
                "authentication": nullable(obj(
                    {**{f: N_STRING for f in AUTH_RESULT_FIELDS if f not in ("cavv", "xid")}, "liability_shift": {"type": "boolean"}},
                    [f for f in AUTH_RESULT_FIELDS if f not in ("cavv", "xid")] + ["liability_shift"],
                    "The result fields, without CAVV and XID.",
                )),
                "authenticated_amount": nullable(ref("Amount")),
                "consumption": nullable(ref("ConsumptionView")),
                "card": obj({"network": N_STRING, "last4": N_STRING}, ["network", "last4"]),
                "decided_at": N_DATE_TIME,
                "reason": nullable(ref("Reason")),
            },
            ["reference_code", "reason", "transaction_status", "authentication", "authenticated_amount", "consumption", "card", "decided_at"],
        ),
    ],
    "description": "authentication.*: the status route's outcome fields, never the card number, expiry, CAVV or XID.",
}
schemas["CardEventData"] = obj(
    {
        "card_id": s(),
        "cardholder_id": nullable(s(description="Null once unenrolled.")),
        "status": {"type": "string", "enum": ["ENROLLED", "UNENROLLED"]},
        "updated_at": DATE_TIME,
        "previous_cardholder_id": nullable(s(description="card.enrollment_updated and card.unenrolled: the cardholder it was linked to.")),
    },
    ["card_id", "cardholder_id", "status", "updated_at"],
    "card.enrolled, card.enrollment_updated, card.unenrolled.",
)
schemas["CardholderEventData"] = obj(
    {"cardholder_id": s(), "budget_id": s(), "updated_at": DATE_TIME},
    ["cardholder_id", "budget_id", "updated_at"],
    "cardholder.updated: no contact detail.",
)
schemas["JobEventData"] = obj(
    {
        "job_id": s(format="uuid"),
        "state": {"type": "string", "enum": ["completed", "completed_with_errors", "failed", "canceled"]},
        "total": {"type": "integer"}, "enrolled": {"type": "integer"}, "reconciled": {"type": "integer"},
        "failed": {"type": "integer"}, "not_run": {"type": "integer"},
        "failure": N_STRING,
        "created_at": DATE_TIME,
        "finished_at": N_DATE_TIME,
    },
    ["job_id", "state", "total", "enrolled", "reconciled", "failed", "not_run", "failure", "created_at", "finished_at"],
    "job.completed, job.failed, job.canceled.",
)
schemas["EventData"] = {
    "description": "What the event says, by type.",
    "anyOf": [ref("AuthenticationEventData"), ref("CardEventData"), ref("CardholderEventData"), ref("JobEventData")],
}
EVENT_ID = s(r"^evt_[0-9a-f]{32}$", "`evt_` and 32 hex digits, stable for the change that made it.")
schemas["Event"] = obj(
    {
        "id": EVENT_ID,
        "type": ref("EventType"),
        "timestamp": DATE_TIME,
        "tenant": s(TENANT_ID, "The tenant it belongs to."),
        "data": ref("EventData"),
    },
    ["id", "type", "timestamp", "tenant", "data"],
    "An event as every delivery sends it (the Standard Webhooks payload shape): the body the signature covers. The events API lists the same `id`, `type` and `data` with its deliveries (ListedEvent).",
)
schemas["DeliveryAttempt"] = obj(
    {
        "at": {"type": "integer", "description": "Epoch milliseconds."},
        "status": {"type": "integer", "description": "The endpoint's HTTP status, when it answered."},
        "latency_ms": {"type": "integer", "minimum": 0},
        "error": s(description="Why it failed without an answer (`timeout`, `unreachable`, ...)."),
    },
    ["at", "latency_ms"],
)
schemas["ListedEvent"] = obj(
    {
        "id": EVENT_ID,
        "type": ref("EventType"),
        "created_at": DATE_TIME,
        "delivery": obj(
            {
                "status": {"type": "string", "enum": ["pending", "delivered", "failed", "not_sent"], "description": "`not_sent`: the tenant has no webhook for it."},
                "attempt_count": {"type": "integer", "minimum": 0},
                "delivered_at": N_DATE_TIME,
                "attempts": {"type": "array", "maxItems": 20, "items": ref("DeliveryAttempt"), "description": "The last 20 attempts."},
            },
            ["status", "attempt_count", "delivered_at", "attempts"],
        ),
        "data": ref("EventData"),
    },
    ["id", "type", "created_at", "delivery", "data"],
    "An event in the events API: the event and its deliveries.",
)
schemas["EventList"] = listing("events", "ListedEvent", "The cursor of the next page (`after`).")
schemas["RedeliveryAnswer"] = obj(
    {
        "status": {"type": "string", "const": "success"},
        "message": s(),
        "data": obj({"id": s(), "queued": {"type": "boolean", "const": True}}, ["id", "queued"]),
    },
    ["status", "message", "data"],
)

# The browser's last hop (shared/src/redirect.rs, functions/callback/src/redirect.rs).
schemas["SignedRedirect"] = {
    "type": "object",
    "description": "The query of the URL the browser is sent to (the merchant's return URL, its own parameters kept): every parameter but `signature`, sorted by name and form-urlencoded as `name=value` pairs joined by `&`, is signed with HMAC-SHA256 under the merchant's redirect key `kid` (docs/merchant-integration.md). All values are text.",
    "properties": {
        "reference_code": s(description="The session's reference code."),
        "tenant": s(TENANT_ID, "The merchant's tenant id: check it is yours."),
        "status": {"type": "string", "enum": ["authenticated", "failed", "expired", "canceled", "error"], "description": "`error`: nothing could be decided and trying again will not help; `reason` is an error code and the session stays pending."},
        "flow": ref("Flow"),
        "liability_shift": {"type": "string", "enum": ["true", "false", "unknown"]},
        "reason": {"anyOf": [ref("Reason"), ref("ErrorCode")], "description": "A Reason for failed, expired and canceled; an ErrorCode with status=error."},
        "eci": s(description="When decided: the ECI (Mastercard's eci_raw)."),
        "directory_server_transaction_id": s(),
        "specification_version": s(),
        "details": s(r"^/v1/risk/authentication/", "The path of the status route, which has the rest (the CAVV is never put in a URL). Absent with status=error."),
        "ts": s(r"^-?[0-9]+$", "When the outcome was decided (unix seconds): every redirect of one decided session is the same URL."),
        "kid": s(description="The id of the redirect key that signed it."),
        "signature": s(r"^[0-9a-f]{64}$", "Lower-case hex HMAC-SHA256."),
    },
    "required": ["reference_code", "tenant", "status", "flow", "liability_shift", "ts", "kid", "signature"],
    "additionalProperties": {"type": "string", "description": "The merchant's own query parameters, signed too."},
}
schemas["PostMessageResult"] = obj(
    {
        "type": {"type": "string", "const": "3ds-gateway:result"},
        "version": {"type": "integer", "const": 1},
        "result": ref("SignedRedirect"),
        "signed": s(description="The signed query string itself: have the server verify it before trusting `result`."),
    },
    ["type", "version", "result", "signed"],
    "What the `post_message` completion page posts to the parent window, targeted at the merchant's registered origin (gateway.js resolves its Promise with it).",
)
schemas["BrowserReturnForm"] = obj(
    {
        "TransactionId": s(TRANSACTION_ID, "The challenge's transaction id (1 to 64 letters, digits and `-`). Required here or in the query string."),
        "MD": s(description="Merchant data, echoed into a retry page (ignored beyond 1024 bytes)."),
    },
    description="What the ACS / Cardinal page posts. A JSON body (`application/json`) with the same string fields is read too, and the query string is read after the body.",
)

# ---------------------------------------------------------------------------------------
# Headers, parameters, responses.
# ---------------------------------------------------------------------------------------

headers = {
    "RequestId": {
        "description": "The request's id, on every answer: the caller's own x-request-id when well formed (1 to 64 of letters, digits and `-._:`), else API Gateway's requestId. Every error body carries it as `request_id`.",
        "required": True,
        "schema": {"type": "string", "pattern": REQUEST_ID},
    },
    "IdempotentReplayed": {
        "description": "`true` when the answer is the one kept for an earlier identical request (nothing was done again).",
        "schema": {"type": "string", "const": "true"},
    },
    "RetryAfter": {
        "description": "Seconds to wait before asking again.",
        "schema": {"type": "string", "pattern": r"^[0-9]+$"},
    },
    "Location": {
        "description": "The merchant's return URL with the signed outcome in its query (SignedRedirect).",
        "required": True,
        "schema": {"type": "string", "format": "uri"},
    },
    "CacheControl": {"description": "Cache policy.", "schema": {"type": "string"}},
}
RID = {"x-request-id": {"$ref": "#/components/headers/RequestId"}}
REPLAY = {"idempotent-replayed": {"$ref": "#/components/headers/IdempotentReplayed"}}

parameters = {
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "1 to 255 visible ASCII characters, per tenant: the same key and request within 24 hours answers what the first did (`idempotent-replayed: true`); another request under it is 409 IDEMPOTENCY_KEY_REUSED.",
        "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY},
    },
    "ReferenceCode": {
        "name": "reference_code",
        "in": "path",
        "required": True,
        "description": "The merchant's reference of the authentication. " + REF_DESC,
        "schema": ref("ReferenceCode"),
    },
    "AcquirerFormat": {
        "name": "format",
        "in": "query",
        "required": False,
        "description": "Adds `external_3ds`: the authorization in that acquirer's external-3DS fields.",
        "schema": ref("AcquirerFormat"),
    },
    "JobId": {
        "name": "job_id",
        "in": "path",
        "required": True,
        "description": "The job's id (a UUID). Anything else, or another program's job, is 404 JOB_NOT_FOUND.",
        "schema": {"type": "string", "format": "uuid"},
    },
    "EventId": {
        "name": "event_id",
        "in": "path",
        "required": True,
        "description": "One of the caller's event ids (`evt_...`). Anything else, or another tenant's event, is 404 EVENT_NOT_FOUND.",
        "schema": {"type": "string", "pattern": r"^[A-Za-z0-9_]{1,64}$"},
    },
    "CallbackTenant": {
        "name": "tenant",
        "in": "path",
        "required": True,
        "description": "The merchant's tenant id.",
        "schema": {"type": "string", "pattern": TENANT_ID},
    },
    "CallbackReferenceCode": {
        "name": "reference_code",
        "in": "path",
        "required": True,
        "description": "The session's reference code.",
        "schema": ref("ReferenceCode"),
    },
    "CallbackBinding": {
        "name": "binding",
        "in": "path",
        "required": True,
        "description": "The binding token: a key id, `.` and an HMAC of the tenant and the reference code (43 base64url characters). One the gateway did not make is 403 RETURN_URL_NOT_VALID.",
        "schema": {"type": "string", "pattern": BINDING},
    },
    "CallbackTransactionId": {
        "name": "TransactionId",
        "in": "query",
        "required": False,
        "description": "The challenge's transaction id, when it comes in the query string.",
        "schema": {"type": "string", "pattern": TRANSACTION_ID},
    },
    "CallbackMD": {
        "name": "MD",
        "in": "query",
        "required": False,
        "description": "Merchant data, when it comes in the query string.",
        "schema": {"type": "string"},
    },
}

STATUS_TEXT = {
    400: ("Bad request", "A field failed its check (`field` names it), or the body is not JSON: INVALID_PARAMETER, MALFORMED_JSON; or the upstream's 400, passed on."),
    401: ("Unauthorized", "Missing or unknown x-api-key: UNAUTHORIZED."),
    403: ("Forbidden", "ROLE_NOT_ALLOWED: the key's tenant does not have this route's role; FEATURE_NOT_ENABLED: 3DS is not enabled for the card-issuance account."),
    404: ("Not found", "Nothing of the caller's with that name (another tenant's answers the same), or ROUTE_NOT_FOUND: a path that reaches the function but matches none of its routes (such as a trailing slash). The operation's x-error-codes say which."),
    405: ("Method not allowed", "METHOD_NOT_ALLOWED: this path does not take that method (the function's fallback)."),
    409: ("Conflict", "The request conflicts with the state of what it names; the operation's x-error-codes say which."),
    413: ("Payload too large", "PAYLOAD_TOO_LARGE: the body is over the route's limit (64 KiB; 1 MiB for a job create)."),
    422: ("Unprocessable", "The payer-authentication API refused the request (a `fail` envelope reads as 422): UPSTREAM_REJECTED or the upstream's own code."),
    429: ("Too many requests", "TOO_MANY_REQUESTS: the upstream's rate limit, after the gateway's retries; TOO_MANY_REDELIVERIES: the tenant's hourly redeliveries are used up. With Retry-After when known."),
    500: ("Internal error", "INTERNAL_ERROR: an invariant did not hold (details in the gateway's logs only)."),
    501: ("Not implemented", "UNENROLL_NOT_AVAILABLE: the card-issuance API has no unenroll route; nothing was changed."),
    502: ("Bad gateway", "UPSTREAM_UNAUTHORIZED (the gateway's upstream credentials, not your key), UPSTREAM_REJECTED, UPSTREAM_UNAVAILABLE (outcome unknown, nothing declined: retry the same request), STORE_UNAVAILABLE (nothing decided: retry)."),
    504: ("Gateway timeout", "UPSTREAM_TIMEOUT (outcome unknown, nothing declined: retry the same request), STORE_TIMEOUT (nothing decided: retry)."),
    "4XX": ("Upstream refusal", "An upstream's refusal with another 4xx status, passed on with that status: UPSTREAM_REJECTED or the upstream's own code (such as CARD_NOT_ACTIVE)."),
}
PAGE_TEXT = {
    400: "The return carried an invalid reference code or tenant, no transaction id (INVALID_PARAMETER), or an unreadable JSON body (MALFORMED_JSON), and the session names no return URL to report it to.",
    403: "RETURN_URL_NOT_VALID: the binding token is not one the gateway made; RETURN_URL_NOT_ALLOWED: the tenant is no longer a merchant, or its stored return URL is no longer among its allowed origins.",
    404: "SESSION_NOT_FOUND: no authentication is waiting for this payment; or ROUTE_NOT_FOUND.",
    405: "METHOD_NOT_ALLOWED.",
    409: "NO_CHALLENGE_PENDING: the session had no challenge (and no return URL to report it to).",
    413: "PAYLOAD_TOO_LARGE: the posted body is over 64 KiB.",
    429: "The upstream's rate limit (TOO_MANY_REQUESTS): a page that posts the same return again after a few seconds.",
    500: "INTERNAL_ERROR.",
    502: "UPSTREAM_UNAVAILABLE or STORE_UNAVAILABLE: nothing was decided; a page that posts the same return again after a few seconds.",
    504: "UPSTREAM_TIMEOUT or STORE_TIMEOUT: nothing was decided; a page that posts the same return again after a few seconds.",
}

ENVELOPE_TEXT = {
    ("PayerAuth", 400): "A field failed its check (`error.field` names it), or the body is not JSON: INVALID_PARAMETER, MALFORMED_JSON; or the upstream's 400, passed on.",
    ("CallersOwn", 400): "A query parameter failed its check (`field` / `error.field` names it): INVALID_PARAMETER.",
    ("PayerAuth", 403): "ROLE_NOT_ALLOWED: the key's tenant is not a merchant.",
    ("CallersOwn", 403): "ROLE_NOT_ALLOWED: the key's tenant does not have this route's role.",
    ("CardIssuance", 403): "ROLE_NOT_ALLOWED: the key's tenant is not a card program; FEATURE_NOT_ENABLED: 3DS is not enabled for the card-issuance account.",
    ("PayerAuth", 413): "PAYLOAD_TOO_LARGE: the body is over 64 KiB.",
    ("CardIssuance", 413): "PAYLOAD_TOO_LARGE: the body is over 64 KiB (1 MiB for a job create: upload larger jobs).",
    ("PayerAuth", 429): "The payer-authentication API's rate limit, after the gateway's retries (TOO_MANY_REQUESTS, or its own code).",
    ("CardIssuance", 429): "TOO_MANY_REQUESTS: the card-issuance API's rate limit (1000 requests per 10 s), after the gateway's retries; with Retry-After when the upstream gave one.",
    ("CallersOwn", 429): "TOO_MANY_REDELIVERIES: the tenant's redeliveries for this hour are used up; Retry-After says when the next hour begins.",
    ("CallersOwn", 502): "STORE_UNAVAILABLE: the store failed; nothing was decided, retry.",
    ("CallersOwn", 504): "STORE_TIMEOUT: the store did not answer in time; retry.",
}

responses = {}


def error_response(envelope, status):
    name = f"{envelope}{status}"
    if name in responses:
        return {"$ref": f"#/components/responses/{name}"}
    hdrs = dict(RID)
    if status == 429:
        hdrs["Retry-After"] = {"$ref": "#/components/headers/RetryAfter"}
    if envelope == "Page":
        body = {"text/html": {"schema": ref("ErrorPage")}}
        desc = PAGE_TEXT[status]
        hdrs["Cache-Control"] = {"$ref": "#/components/headers/CacheControl"}
    else:
        schema = {"CardIssuance": "CardIssuanceError", "PayerAuth": "PayerAuthError", "CallersOwn": "CallersOwnError"}[envelope]
        body = {"application/json": {"schema": ref(schema)}}
        desc = ENVELOPE_TEXT.get((envelope, status), STATUS_TEXT[status][1])
    responses[name] = {"description": desc, "headers": hdrs, "content": body}
    return {"$ref": f"#/components/responses/{name}"}


# ---------------------------------------------------------------------------------------
# Operations.
# ---------------------------------------------------------------------------------------

ORDER = [name for name, _ in ERROR_CODES]
COMMON = ["UNAUTHORIZED", "ROUTE_NOT_FOUND", "METHOD_NOT_ALLOWED", "INTERNAL_ERROR"]
ROLE = ["ROLE_NOT_ALLOWED"]
BODY = ["INVALID_PARAMETER", "MALFORMED_JSON", "PAYLOAD_TOO_LARGE"]
STORE = ["STORE_UNAVAILABLE", "STORE_TIMEOUT"]
CI_UPSTREAM = ["INVALID_PARAMETER", "UPSTREAM_UNAUTHORIZED", "FEATURE_NOT_ENABLED", "NOT_FOUND", "TOO_MANY_REQUESTS",
               "UPSTREAM_REJECTED", "UPSTREAM_UNAVAILABLE", "UPSTREAM_TIMEOUT"]
IDEM = ["INVALID_PARAMETER", "IDEMPOTENCY_KEY_REUSED", "REQUEST_IN_PROGRESS", "SEALED_ANSWER_UNAVAILABLE"]
PA_UPSTREAM = ["INVALID_PARAMETER", "UPSTREAM_UNAUTHORIZED", "TOO_MANY_REQUESTS", "UPSTREAM_REJECTED",
               "UPSTREAM_UNAVAILABLE", "UPSTREAM_TIMEOUT"]
BROWSER_FALLBACK = ["ROUTE_NOT_FOUND", "METHOD_NOT_ALLOWED"]

SECURITY = {
    "issuer": [{"issuerKey": []}],
    "merchant": [{"merchantKey": []}],
    "history": [{"merchantKey": []}, {"issuerKey": []}],
    "browser": [],
}

paths = {}
ISSUING = "/card/issuance/api/issuing"


def json_body(schema_name, required=True, description=None):
    out = {"required": required, "content": {"application/json": {"schema": ref(schema_name)}}}
    if description:
        out["description"] = description
    return out


def ok(status, description, schema=None, replay=False, media="application/json", extra_headers=None):
    hdrs = dict(RID)
    if replay:
        hdrs.update(REPLAY)
    if extra_headers:
        hdrs.update(extra_headers)
    out = {"description": description, "headers": hdrs}
    if schema is not None:
        out["content"] = {media: {"schema": schema if isinstance(schema, dict) else ref(schema)}}
    return status, out


def op(method, path, operation_id, summary, tag, envelope, codes, successes, description=None,
       parameters_=None, body=None, extra_statuses=()):
    if "{" in path:
        # A path parameter that is not UTF-8 once percent-decoded is refused, naming it.
        codes = [*codes, "INVALID_PARAMETER"]
    codes = sorted(set(codes), key=ORDER.index)
    for c in codes:
        assert c in STATUS_OF, c
    statuses = sorted({STATUS_OF[c] for c in codes} | {x for x in extra_statuses if isinstance(x, int)})
    responses_ = {}
    for status, response in successes:
        responses_[str(status)] = response
    for status in statuses:
        responses_[str(status)] = error_response(envelope, status)
    for extra in extra_statuses:
        if not isinstance(extra, int):
            responses_[extra] = error_response(envelope, extra)
    operation = {
        "operationId": operation_id,
        "summary": summary,
    }
    if description:
        operation["description"] = description
    operation["tags"] = [tag]
    operation["security"] = SECURITY[tag]
    if parameters_:
        operation["parameters"] = parameters_
    if body:
        operation["requestBody"] = body
    operation["responses"] = responses_
    operation["x-error-codes"] = codes
    paths.setdefault(path, {})[method] = operation


def p(name):
    return {"$ref": f"#/components/parameters/{name}"}


def query(name, schema, description, required=False):
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


# --- Issuer: the enroll function -------------------------------------------------------
ISSUER_KEYED = COMMON + ROLE
op("post", f"{ISSUING}/3ds/v2/enroll", "enrollCard", "Enroll a card for 3DS", "issuer", "CardIssuance",
   ISSUER_KEYED + BODY + STORE + CI_UPSTREAM + IDEM + ["CARD_NOT_FOUND", "CARDHOLDER_NOT_FOUND", "CARD_ALREADY_ENROLLED"],
   [ok(200, "Enrolled (the upstream's answer); a 409 for the same cardholder is reconciled as enrolled (`data.reconciled: true`).", "EnrollAnswer", replay=True)],
   "Both the card (issued from one of the caller's budgets) and the cardholder must be the caller's; the status is recorded.",
   [p("IdempotencyKey")], json_body("CardEnrollmentRequest"), extra_statuses=["4XX"])
op("post", f"{ISSUING}/3ds/v2/enroll/batch", "enrollCardsBatch", "Enroll up to 100 cards in one request", "issuer", "CardIssuance",
   ISSUER_KEYED + BODY,
   [ok(200, "A result per item (ENROLLED, FAILED with its code, or TIMEOUT past the 25 s deadline); one failure never fails the rest.", "BatchEnrollAnswer")],
   "Every item is checked before any upstream call (a bad one refuses the batch, `items[i].field`).",
   None, json_body("BatchEnrollRequest"))
op("post", f"{ISSUING}/3ds/v2/update", "updateEnrollment", "Re-point an enrolled card to another cardholder", "issuer", "CardIssuance",
   ISSUER_KEYED + BODY + STORE + CI_UPSTREAM + IDEM + ["CARD_NOT_FOUND", "CARDHOLDER_NOT_FOUND", "CARD_NOT_ENROLLED"],
   [ok(200, "Re-pointed (the upstream's answer); the status is recorded.", "CardIssuanceAnswer", replay=True)],
   None, [p("IdempotencyKey")], json_body("CardEnrollmentRequest"), extra_statuses=["4XX"])
op("get", f"{ISSUING}/3ds/v2/detail", "getEnrollmentDetail", "Read an enrolled card's cardholder contact", "issuer", "CardIssuance",
   ISSUER_KEYED + STORE + CI_UPSTREAM + ["INVALID_PARAMETER", "CARD_NOT_FOUND", "CARD_NOT_ENROLLED"],
   [ok(200, "The contact (security answer redacted).", "EnrollmentDetailAnswer")],
   None, [query("card_id", ref("CardId"), "One of the caller's cards.", True)], extra_statuses=["4XX"])
op("post", f"{ISSUING}/cardholders/v2/create", "createCardholder", "Create a cardholder's 3DS contact", "issuer", "CardIssuance",
   ISSUER_KEYED + BODY + STORE + CI_UPSTREAM + IDEM + ["BUDGET_NOT_FOUND", "IDEMPOTENCY_OUTCOME_UNKNOWN"],
   [ok(200, "Created: `data.cardholder_id`, recorded as the caller's.", "CreateCardholderAnswer", replay=True)],
   "Never run twice once it may have reached the upstream: an unknown outcome is said so, and a retry under the same key is 409 IDEMPOTENCY_OUTCOME_UNKNOWN (look the contact up first).",
   [p("IdempotencyKey")], json_body("CreateCardholderRequest"), extra_statuses=["4XX"])
op("post", f"{ISSUING}/cardholders/v2/update", "updateCardholder", "Replace a cardholder's 3DS contact", "issuer", "CardIssuance",
   ISSUER_KEYED + BODY + STORE + CI_UPSTREAM + IDEM + ["CARDHOLDER_NOT_FOUND"],
   [ok(200, "Updated (the upstream's answer, security answer redacted); `cardholder.updated` follows.", "CardIssuanceAnswer", replay=True)],
   None, [p("IdempotencyKey")], json_body("UpdateCardholderRequest"), extra_statuses=["4XX"])
op("get", f"{ISSUING}/cardholders/v2/detail", "queryCardholders", "List cardholder contacts", "issuer", "CardIssuance",
   ISSUER_KEYED + STORE + CI_UPSTREAM + ["INVALID_PARAMETER", "BUDGET_NOT_FOUND", "CARDHOLDER_NOT_FOUND"],
   [ok(200, "The caller's contacts only (security answers redacted).", "CardholderListAnswer")],
   "At least one of `budget_id` and `cardholder_id` (a blank value counts as absent); only the caller's budgets and contacts.",
   [
       query("budget_id", {"type": "string", "pattern": anchored(r"(?:[A-Za-z0-9_-]{1,64})?")}, "One of the caller's budgets (1 to 64 letters, digits, `-`, `_`)."),
       query("cardholder_id", {"type": "string", "pattern": anchored(r"(?:[A-Za-z0-9_-]{1,64})?")}, "One of the caller's cardholders."),
       query("page_no", {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1}, "Page number."),
       query("page_size", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "Page size."),
   ], extra_statuses=["4XX"])
op("post", f"{ISSUING}/3ds/v2/unenroll", "unenrollCard", "Remove a card's 3DS link", "issuer", "CardIssuance",
   ISSUER_KEYED + BODY + STORE + CI_UPSTREAM + IDEM + ["CARD_NOT_FOUND", "CARD_NOT_ENROLLED", "UNENROLL_NOT_AVAILABLE"],
   [ok(200, "Unenrolled: the record says UNENROLLED (`card.unenrolled`); the card may be enrolled again.", "CardIssuanceAnswer", replay=True)],
   "The upstream route is inferred (docs/api.md); where the upstream has none, 501 and nothing is recorded.",
   [p("IdempotencyKey")], json_body("UnenrollRequest"), extra_statuses=["4XX"])
op("get", f"{ISSUING}/3ds/v2/status", "getCardStatus", "Read a card's 3DS status", "issuer", "CardIssuance",
   ISSUER_KEYED + STORE + CI_UPSTREAM + ["INVALID_PARAMETER", "CARD_NOT_FOUND"],
   [ok(200, "From the gateway's own record (no contact detail); with `refresh=true` brought in line with the upstream.", "CardStatusAnswer")],
   None,
   [
       query("card_id", ref("CardId"), "One of the caller's cards.", True),
       query("refresh", {"type": "boolean", "default": False}, "`true`: read the upstream's enrollment detail and bring the record in line (one conditional write)."),
   ], extra_statuses=["4XX"])
op("post", f"{ISSUING}/3ds/v2/status/batch", "getCardStatusBatch", "Read up to 100 cards' 3DS status", "issuer", "CardIssuance",
   ISSUER_KEYED + BODY + STORE,
   [ok(200, "The caller's records in one read; a card with no record of the caller's is UNKNOWN.", "CardStatusBatchAnswer")],
   None, None, json_body("BatchStatusRequest"))

# --- Issuer: the jobs function ---------------------------------------------------------
JOBS = f"{ISSUING}/3ds/v2/enroll/jobs"
op("post", JOBS, "createEnrollmentJob", "Create a bulk enrollment job", "issuer", "CardIssuance",
   ISSUER_KEYED + BODY + STORE + ["IDEMPOTENCY_KEY_REUSED"],
   [ok(202, "The job: queued (inline items), or awaiting its upload with `upload.url` to PUT the file to. A retried create under the same Idempotency-Key finds its job (`idempotent-replayed: true`).", "JobAnswer", replay=True)],
   "Every item is checked before anything is queued (`items[i].field`). The body may be up to 1 MiB.",
   [p("IdempotencyKey")], json_body("CreateJobRequest"))
op("post", f"{JOBS}/{{job_id}}/start", "startEnrollmentJob", "Start an uploaded job", "issuer", "CardIssuance",
   ISSUER_KEYED + STORE + ["INVALID_PARAMETER", "JOB_NOT_FOUND", "JOB_FINISHED", "UPLOAD_MISSING"],
   [ok(202, "Checked line by line and queued (a job already started answers as it is, `idempotent-replayed: true`).", "JobAnswer", replay=True)],
   "A bad line is refused as `lines[n].field`, and nothing is queued.", [p("JobId")])
op("get", f"{JOBS}/{{job_id}}", "getEnrollmentJob", "Read a job", "issuer", "CardIssuance",
   ISSUER_KEYED + STORE + ["JOB_NOT_FOUND"],
   [ok(200, "Its state, counts, progress and estimated finish.", "JobAnswer")],
   None, [p("JobId")])
op("get", f"{JOBS}/{{job_id}}/items", "listEnrollmentJobItems", "List a job's items of one outcome", "issuer", "CardIssuance",
   ISSUER_KEYED + STORE + ["INVALID_PARAMETER", "JOB_NOT_FOUND"],
   [ok(200, "The items in line order, with each failure's code and message.", "JobItemsAnswer")],
   None,
   [
       p("JobId"),
       query("state", ref("ItemState"), "Which items (default `failed`)."),
       query("after", {"type": "integer", "minimum": 0, "maximum": 4294967295}, "The previous page's `next_after` (a line number)."),
       query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, "Page size."),
   ])
op("post", f"{JOBS}/{{job_id}}/cancel", "cancelEnrollmentJob", "Cancel a job", "issuer", "CardIssuance",
   ISSUER_KEYED + STORE + ["JOB_NOT_FOUND", "JOB_FINISHED"],
   [ok(200, "Canceled: items not started are not run (`job.canceled`); a repeat answers the same (`idempotent-replayed: true`).", "JobAnswer", replay=True)],
   None, [p("JobId")])

# --- Merchant: the check-enroll function -----------------------------------------------
MERCHANT_KEYED = COMMON + ROLE
AUTH = "/v1/risk/authentication"
op("post", f"{AUTH}/setup", "setupAuthentication", "Set up payer authentication", "merchant", "PayerAuth",
   MERCHANT_KEYED + BODY + STORE + PA_UPSTREAM + ["REFERENCE_CODE_IN_USE", "SEALED_ANSWER_UNAVAILABLE"],
   [ok(200, "The upstream's setup answer; the session is recorded (SETUP_COMPLETED). A replay of the same request returns the stored answer.", "SetupAnswer", replay=True)],
   None, None, json_body("SetupRequest"), extra_statuses=[422, "4XX"])
op("post", f"{AUTH}/enroll", "checkEnroll", "Check enrollment (and decide, or start a challenge)", "merchant", "PayerAuth",
   MERCHANT_KEYED + BODY + STORE + PA_UPSTREAM + ["REFERENCE_CODE_IN_USE", "REQUEST_IN_PROGRESS", "SEALED_ANSWER_UNAVAILABLE", "SESSION_SUPERSEDED"],
   [ok(200, "The upstream's answer. Frictionless outcomes are final; `Pending_authentication` keeps the session CHALLENGE_PENDING. A replay returns the stored answer.", "CheckEnrollAnswer", replay=True)],
   "The upstream gets the gateway's own return URL; the browser comes back to the callback route and is then sent to the merchant's, signed.",
   None, json_body("CheckEnrollRequest"), extra_statuses=[422, "4XX"])
op("post", f"{AUTH}/validate", "validateAuthentication", "Validate a challenge (drop-in)", "merchant", "PayerAuth",
   MERCHANT_KEYED + BODY + STORE + PA_UPSTREAM + ["SESSION_NOT_FOUND", "NO_CHALLENGE_PENDING", "AUTHENTICATION_EXPIRED", "AUTHENTICATION_CANCELED",
                                                  "REQUEST_IN_PROGRESS", "SESSION_SUPERSEDED", "SEALED_ANSWER_UNAVAILABLE"],
   [ok(200, "The upstream's validate answer; the session is AUTHENTICATED or FAILED. A replay returns the stored answer.", "ValidateAnswer", replay=True)],
   "For front ends that complete the challenge through the Cardinal SDK: the same one-shot validation as the browser's return.",
   None, json_body("ValidateRequest"), extra_statuses=[422, "4XX"])
op("get", f"{AUTH}/{{reference_code}}", "getAuthentication", "Read an authentication's state and result", "merchant", "PayerAuth",
   MERCHANT_KEYED + STORE + ["INVALID_PARAMETER", "SESSION_NOT_FOUND"],
   [ok(200, "The stored state and result, with `authorization` once authenticated (and `external_3ds` with `format`).", "AuthenticationStatusAnswer")],
   "A challenge past its deadline is recorded EXPIRED by this read.",
   [p("ReferenceCode"), p("AcquirerFormat")])
op("post", f"{AUTH}/{{reference_code}}/cancel", "cancelAuthentication", "Cancel a pending challenge", "merchant", "PayerAuth",
   MERCHANT_KEYED + STORE + ["INVALID_PARAMETER", "SESSION_NOT_FOUND", "NO_CHALLENGE_PENDING", "REQUEST_IN_PROGRESS"],
   [ok(200, "Canceled (CANCELED, its card data dropped; `authentication.canceled` follows); a repeat answers the same (`idempotent-replayed: true`).", "AuthenticationStatusAnswer", replay=True)],
   "A cardholder who comes back later is sent to the merchant with `status=canceled`.",
   [p("ReferenceCode")])
op("post", f"{AUTH}/{{reference_code}}/consume", "consumeAuthentication", "Use an authenticated result once", "merchant", "PayerAuth",
   MERCHANT_KEYED + STORE + ["INVALID_PARAMETER", "MALFORMED_JSON", "PAYLOAD_TOO_LARGE", "SESSION_NOT_FOUND",
                             "IDEMPOTENCY_KEY_REUSED", "AUTHENTICATION_NOT_USABLE", "AUTHENTICATION_ALREADY_CONSUMED"],
   [ok(200, "Marked used; the status route's answer with its `authorization` (`authentication.consumed` follows). The same consume retried under its Idempotency-Key answers the same (`idempotent-replayed: true`).", "AuthenticationStatusAnswer", replay=True)],
   "One conditional write: a second consume is 409 AUTHENTICATION_ALREADY_CONSUMED; an amount above the authenticated one is 400 (`field: amount`), another currency 400 (`field: currency`).",
   [p("ReferenceCode"), p("AcquirerFormat"), p("IdempotencyKey")],
   json_body("ConsumeRequest", required=False, description="Optional; an empty body consumes with nothing to check."))

# How the outcome of a challenge reaches the merchant: not routes of the gateway, so they
# are the check-enroll operation's callbacks (the return URL comes from its body).
_check_enroll = paths[f"{AUTH}/enroll"]["post"]
_callbacks = {
    "challengeOutcome": {
        "{$request.body#/authentication/return_url}": {
            "description": "The merchant's return URL, after the challenge.",
            "get": {
                "operationId": "merchantReturnUrl",
                "summary": "The browser arrives at the merchant's return URL, signed",
                "description": "Not a route of the gateway: with completion `redirect` (the default) or `top`, the gateway's return page sends the browser to the merchant's return URL with the signed outcome added to its query (SignedRedirect). Check the signature, `tenant`, `reference_code` and `ts` before trusting it (docs/merchant-integration.md).",
                "tags": ["merchant"],
                "security": [],
                "parameters": [
                    {"name": "outcome", "in": "query", "required": True, "style": "form", "explode": True,
                     "description": "The signed outcome, one query parameter per field.", "schema": ref("SignedRedirect")},
                ],
                "responses": {
                    "2XX": {"description": "The merchant's page, once the redirect verifies."},
                    "4XX": {"description": "The merchant's refusal of a redirect that does not verify (signature, tenant, reference code, ts)."},
                },
            },
            "post": {
                "operationId": "merchantPageMessage",
                "summary": "The signed outcome posted to the merchant's page",
                "description": "Not an HTTP request: with completion `post_message` the gateway's return page calls `window.parent.postMessage(message, origin)` with this message (PostMessageResult), targeted at the origin of the merchant's return URL only; gateway.js's `challenge()` receives it. Verify `signed` on the server before trusting `result`.",
                "tags": ["merchant"],
                "security": [],
                "requestBody": {"required": True, "content": {"application/json": {"schema": ref("PostMessageResult")}}},
                "responses": {
                    "2XX": {"description": "gateway.js resolves its Promise with the outcome (status authenticated)."},
                    "4XX": {"description": "gateway.js rejects its Promise with the outcome's `reason` (failed, expired, canceled, error)."},
                },
            },
        }
    }
}
paths[f"{AUTH}/enroll"]["post"] = {
    **{k: v for k, v in _check_enroll.items() if k not in ("responses", "x-error-codes")},
    "callbacks": _callbacks,
    "responses": _check_enroll["responses"],
    "x-error-codes": _check_enroll["x-error-codes"],
}

# --- The history function --------------------------------------------------------------
op("get", AUTH, "listAuthentications", "List the merchant's authentications", "merchant", "CallersOwn",
   MERCHANT_KEYED + STORE + ["INVALID_PARAMETER"],
   [ok(200, "Newest first, outcome fields only (no card data). A page may come back short with `has_more: true`: follow `next_after`.", "AuthenticationList")],
   "Served by the history function: errors come in the caller's own envelope (a card program's key gets 403 ROLE_NOT_ALLOWED in the card-issuance one).",
   [
       query("state", ref("SessionState"), "Only authentications in this state."),
       query("created_after", {"type": "string", "format": "date-time"}, "Only those created after this time (RFC 3339)."),
       query("after", {"type": "string"}, "The previous page's `next_after` (or one of the caller's reference codes); anything else is 400."),
       query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "Page size."),
   ])
op("get", "/v1/events", "listEvents", "List the caller's events", "history", "CallersOwn",
   COMMON + STORE + ["INVALID_PARAMETER"],
   [ok(200, "The caller's own events of the last 30 days, newest first, with their deliveries. A page may come back short with `has_more: true`.", "EventList")],
   "Any tenant's key; errors in the caller's own envelope.",
   [
       query("type", ref("EventType"), "Only events of this type."),
       query("after", {"type": "string"}, "The previous page's `next_after` (or one of the caller's event ids); anything else is 400."),
       query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "Page size."),
   ])
op("post", "/v1/events/{event_id}/redeliver", "redeliverEvent", "Deliver an event once more", "history", "CallersOwn",
   COMMON + STORE + ["EVENT_NOT_FOUND", "NO_WEBHOOK_ENDPOINT", "REDELIVERY_IN_PROGRESS", "TOO_MANY_REDELIVERIES"],
   [ok(202, "Queued, with the same webhook-id.", "RedeliveryAnswer")],
   "One in flight per event; a capped number per tenant and hour (REDELIVERIES_PER_TENANT_PER_HOUR, 100 by default).",
   [p("EventId")])

# --- The callback function (keyless) ---------------------------------------------------
CALLBACK = f"{AUTH}/callback/{{tenant}}/{{reference_code}}/{{binding}}"
CALLBACK_CODES = BROWSER_FALLBACK + ["INVALID_PARAMETER", "MALFORMED_JSON", "PAYLOAD_TOO_LARGE", "RETURN_URL_NOT_VALID",
                                     "RETURN_URL_NOT_ALLOWED", "SESSION_NOT_FOUND", "NO_CHALLENGE_PENDING", "TOO_MANY_REQUESTS",
                                     "INTERNAL_ERROR", "UPSTREAM_UNAVAILABLE", "STORE_UNAVAILABLE", "UPSTREAM_TIMEOUT", "STORE_TIMEOUT"]
HTML = {"type": "string"}
CALLBACK_OK = [
    ok(200, "The challenge ended in `top` or `post_message` completion: a page that sends the top window to the signed URL, or posts the signed result (PostMessageResult) to the parent window at the merchant's origin.", HTML, media="text/html"),
    ok(202, "Nothing decided yet (another return is being validated): a page that posts the same return again after a few seconds.", HTML, media="text/html"),
    ok(303, "To the merchant's return URL with the signed outcome (`redirect` completion, the default). Also with `status=error` and a `reason` when nothing could be decided and retrying will not help.", None,
       extra_headers={"Location": {"$ref": "#/components/headers/Location"}, "Cache-Control": {"$ref": "#/components/headers/CacheControl"}}),
]
CALLBACK_DESC = "The return URL the ACS / Cardinal page sends the browser to after the challenge. No API key: the binding token proves the gateway made the URL. Validates once, then sends the browser to the merchant, signed (SignedRedirect). A HEAD request never validates."
CALLBACK_PARAMS = [p("CallbackTenant"), p("CallbackReferenceCode"), p("CallbackBinding"), p("CallbackTransactionId"), p("CallbackMD")]
op("get", CALLBACK, "browserReturnGet", "The cardholder's return (query string)", "browser", "Page",
   CALLBACK_CODES, CALLBACK_OK, CALLBACK_DESC, CALLBACK_PARAMS)
op("post", CALLBACK, "browserReturnPost", "The cardholder's return (form post)", "browser", "Page",
   CALLBACK_CODES, CALLBACK_OK, CALLBACK_DESC, CALLBACK_PARAMS,
   {
       "required": False,
       "description": "`TransactionId` (and `MD`) as the bank's page posts them; they may come in the query string instead.",
       "content": {
           "application/x-www-form-urlencoded": {"schema": ref("BrowserReturnForm")},
           "application/json": {"schema": ref("BrowserReturnForm")},
       },
   })
op("get", "/v1/js/gateway.js", "getBrowserLibrary", "The browser library", "browser", "Page",
   BROWSER_FALLBACK,
   [ok(200, "gateway.js (its path is its version; merchants pin its SRI hash). Any origin; cached a year.", HTML, media="text/javascript",
       extra_headers={"Cache-Control": {"$ref": "#/components/headers/CacheControl"}})],
   "Mounts the device-data and challenge frames and resolves a Promise with the outcome (PostMessageResult) of a `post_message` completion.")
op("get", "/v1/openapi.json", "getOpenApiDocument", "This document", "browser", "Page",
   BROWSER_FALLBACK,
   [ok(200, "The API contract (docs/openapi.json), OpenAPI 3.1, as kept in the repository. Any origin; cached 5 minutes.",
       {"type": "object", "required": ["openapi", "info", "paths"], "properties": {"openapi": {"type": "string", "const": "3.1.0"}, "info": {"type": "object"}, "paths": {"type": "object"}}},
       extra_headers={"Cache-Control": {"$ref": "#/components/headers/CacheControl"}})])

# Links: what one answer names, for the next call (and Schemathesis's stateful runs).
def link(source_path, method, status, name, operation_id, parameters_, description, request_body=None):
    response = paths[source_path][method]["responses"][str(status)]
    response.setdefault("links", {})[name] = {
        "operationId": operation_id,
        "parameters": parameters_,
        "description": description,
    }
    if request_body is not None:
        response["links"][name]["requestBody"] = request_body


_ref_of_request = {"reference_code": "$request.body#/transaction_info/reference_code"}
for _path in (f"{AUTH}/setup", f"{AUTH}/enroll", f"{AUTH}/validate"):
    link(_path, "post", 200, "status", "getAuthentication", _ref_of_request, "The session's state and result.")
# The drop-in flow: setup's answer carries what check enroll sends back (the fields not
# named here are the merchant's own).
link(f"{AUTH}/setup", "post", 200, "enroll", "checkEnroll", {}, "Check enroll for the same order and card, with setup's reference_id and token.",
     request_body={
         "transaction_info": {"type": "check_enroll", "reference_code": "$request.body#/transaction_info/reference_code"},
         "card": "$request.body#/card",
         "authentication": {"reference_id": "$response.body#/data/consumer_auth_info/reference_id",
                            "token": "$response.body#/data/consumer_auth_info/token"},
     })
link(f"{AUTH}/enroll", "post", 200, "cancel", "cancelAuthentication", _ref_of_request, "Give up on a pending challenge.")
link(f"{AUTH}/enroll", "post", 200, "consume", "consumeAuthentication", _ref_of_request,
     "Use the authenticated result once, for the amount and currency authenticated.",
     request_body={"amount": "$request.body#/order_info/amount_details/total_amount",
                   "currency": "$request.body#/order_info/amount_details/currency"})
link(f"{AUTH}/validate", "post", 200, "consume", "consumeAuthentication", _ref_of_request, "Use the authenticated result once.")
_job = {"job_id": "$response.body#/data/job_id"}
link(JOBS, "post", 202, "job", "getEnrollmentJob", _job, "The job.")
link(JOBS, "post", 202, "start", "startEnrollmentJob", _job, "Start it once its file is uploaded.")
link(JOBS, "post", 202, "items", "listEnrollmentJobItems", _job, "Its items.")
link(JOBS, "post", 202, "cancel", "cancelEnrollmentJob", _job, "Cancel it.")
link(f"{JOBS}/{{job_id}}/start", "post", 202, "job", "getEnrollmentJob", _job, "The job.")
link("/v1/events", "get", 200, "redeliver", "redeliverEvent", {"event_id": "$response.body#/data/events/0/id"}, "Deliver the first event listed once more.")
for _path in (f"{ISSUING}/3ds/v2/enroll", f"{ISSUING}/3ds/v2/update"):
    link(_path, "post", 200, "status", "getCardStatus", {"card_id": "$request.body#/card_id"}, "The card's status, from the gateway's record.")
    link(_path, "post", 200, "detail", "getEnrollmentDetail", {"card_id": "$request.body#/card_id"}, "The card's cardholder contact.")
link(f"{ISSUING}/cardholders/v2/create", "post", 200, "contact", "queryCardholders", {"cardholder_id": "$response.body#/data/cardholder_id"}, "The contact created.")
link(f"{ISSUING}/cardholders/v2/create", "post", 200, "enroll", "enrollCard", {}, "Enroll a card for the contact created.",
     request_body={"cardholder_id": "$response.body#/data/cardholder_id"})

# ---------------------------------------------------------------------------------------
# Webhooks.
# ---------------------------------------------------------------------------------------

DATA_OF = {
    "authentication": "AuthenticationEventData",
    "card": "CardEventData",
    "cardholder": "CardholderEventData",
    "job": "JobEventData",
}
WEBHOOK_WHEN = {
    "authentication.succeeded": "Validate (or a frictionless check enroll) authenticated the cardholder.",
    "authentication.failed": "Validate (or a frictionless check enroll) did not authenticate the cardholder.",
    "authentication.expired": "The challenge deadline passed (the sweeper, a late return or a status read expired it).",
    "authentication.canceled": "The merchant canceled the pending challenge.",
    "authentication.consumed": "The merchant used the authenticated result (consume).",
    "card.enrolled": "A card was enrolled.",
    "card.enrollment_updated": "A card was re-pointed to another cardholder.",
    "card.unenrolled": "A card's 3DS link was removed.",
    "cardholder.updated": "A contact was updated through the gateway.",
    "job.completed": "Every item of a bulk enrollment job finished (some may have failed).",
    "job.failed": "A job could not run.",
    "job.canceled": "Its program canceled a job.",
}
webhooks = {}
for event_type in EVENT_TYPES:
    family = event_type.split(".")[0]
    camel = "".join(part.capitalize() for part in re.split(r"[._]", event_type))
    webhooks[event_type] = {
        "post": {
            "operationId": camel[0].lower() + camel[1:] + "Webhook",
            "summary": f"{event_type}",
            "description": WEBHOOK_WHEN[event_type] + " Sent to the tenant's webhook as Standard Webhooks say (docs/webhooks.md); delivery is at least once: de-duplicate on webhook-id.",
            "tags": ["history"],
            "security": [],
            "parameters": [
                {"name": "webhook-id", "in": "header", "required": True, "description": "The event id, the same on every retry and redelivery.", "schema": {"type": "string", "pattern": r"^evt_[0-9a-f]{32}$"}},
                {"name": "webhook-timestamp", "in": "header", "required": True, "description": "Unix seconds of this attempt.", "schema": {"type": "string", "pattern": r"^[0-9]+$"}},
                {"name": "webhook-signature", "in": "header", "required": True, "description": "`v1,<base64 HMAC-SHA256 of \"id.timestamp.body\">`, one per key of the webhook, space-separated.", "schema": {"type": "string", "pattern": r"^v1,[A-Za-z0-9+/]+={0,2}( v1,[A-Za-z0-9+/]+={0,2})*$"}},
                {"name": "webhook-key-id", "in": "header", "required": False, "description": "The ids of the keys that signed, in the signatures' order.", "schema": {"type": "string"}},
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "allOf": [
                                ref("Event"),
                                {"type": "object", "properties": {"type": {"const": event_type}, "data": ref(DATA_OF[family])}},
                            ]
                        }
                    }
                },
            },
            "responses": {
                "2XX": {"description": "Any 2xx within 5 s acknowledges the delivery."},
                "default": {"description": "Anything else (or no answer within 5 s) is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h; then the event is listed `failed` (redeliver it through the events API)."},
            },
        }
    }

# ---------------------------------------------------------------------------------------
# The document.
# ---------------------------------------------------------------------------------------

document = {
    "openapi": "3.1.0",
    "info": {
        "title": "3-D Secure gateway",
        "version": "2026-11-30",
        "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        "description": (
            "The HTTP routes of the gateway's functions (enroll, jobs, check-enroll, history, callback) behind API Gateway, "
            "and the webhooks it sends. The reference is docs/api.md; webhooks: docs/webhooks.md; the signed redirect and "
            "post_message: docs/merchant-integration.md.\n\n"
            "Errors come in the envelope the caller's API already parses: the card-issuance one "
            "(`{code, message, field?, request_id}`) for card programs, the payer-authentication one "
            "(`{status, message, error: {reason, message, field?}, request_id}`) for merchants, the caller's own on routes every "
            "tenant calls, and plain HTML pages for the browser. Each operation's `x-error-codes` lists the error codes it can "
            "answer with (the ErrorCode schema gives each one's status); an upstream's refusal keeps the upstream's 4xx status. "
            "Every answer carries `x-request-id`.\n\n"
            "Request fields are trimmed before they are checked; the patterns allow surrounding whitespace. Rules a "
            "pattern cannot say are named formats: `card-number` (the Luhn check), `card-expiry` (not before this "
            "month), `date-of-birth` (before today), `merchant-return-url` (an origin the tenant registered)."
        ),
    },
    "servers": [
        # Relative to where the document is served (`<stage>/v1/openapi.json`): the stage root
        # of whichever deployment a reader fetched it from.
        {"url": "..", "description": "this deployment"},
        {"url": "http://127.0.0.1:3000", "description": "the local stack (cargo run -p local)"},
    ],
    "tags": [
        {"name": "merchant", "description": "Routes a merchant tenant calls with its x-api-key: the check-enroll function, and the history function's authentications listing."},
        {"name": "issuer", "description": "Routes a card program calls with its x-api-key: the enroll function (the card-issuance 3DS API, drop-in) and the jobs function (bulk enrollment)."},
        {"name": "history", "description": "Routes every tenant calls with its own key (the history function's events API), and the webhooks."},
        {"name": "browser", "description": "Keyless routes of the callback function: the cardholder's return, the browser library and this document."},
    ],
    "paths": paths,
    "webhooks": webhooks,
    "components": {
        "securitySchemes": {
            "merchantKey": {"type": "apiKey", "in": "header", "name": "x-api-key", "description": "A merchant tenant's API key (the `merchant` role in the tenant registry)."},
            "issuerKey": {"type": "apiKey", "in": "header", "name": "x-api-key", "description": "A card program tenant's API key (the `issuer` role in the tenant registry)."},
        },
        "headers": headers,
        "parameters": parameters,
        "schemas": schemas,
        "responses": dict(sorted(responses.items(), key=lambda kv: (kv[0].rstrip("0123456789X"), kv[0]))),
    },
}

text_out = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
if CHECK:
    if OUT.read_text(encoding="utf-8") != text_out:
        sys.exit(f"{OUT.relative_to(ROOT)} is not what scripts/gen_openapi.py writes: run it and commit the result")
    print(f"{OUT.relative_to(ROOT)} is up to date ({sum(len(v) for v in paths.values())} operations)")
else:
    OUT.write_text(text_out, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(text_out)} bytes, {sum(len(v) for v in paths.values())} operations")
