"""Schemathesis checks of our own, beside its built-in ones, and the named formats of the
contract (loaded through SCHEMATHESIS_HOOKS by scripts/fuzz_contract.py).

The formats are the rules a pattern cannot say (scripts/gen_openapi.py): valid values are
generated for them, so a schema-valid request is one the gateway must accept.

A refusal of a request field names the field: `field` in the card-issuance envelope,
`error.field` in the payer-authentication one (docs/api.md, "Errors"). Every answer
carries `x-request-id`, and every error body the same id as `request_id`.
"""

import datetime
import os

import schemathesis
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, Response


def _luhn_completed(digits):
    """`digits` with the check digit that makes the whole pass the Luhn check."""
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d)
        if i % 2 == 0:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return digits + str((10 - total % 10) % 10)


def _today():
    """Today as the gateway decides dates: in UTC."""
    return datetime.datetime.now(datetime.timezone.utc).date()


def _month_ahead(months):
    today = _today()
    index = today.year * 12 + today.month - 1 + months
    return f"{index % 12 + 1:02}/{index // 12}"


def _day(days_ago):
    return (_today() - datetime.timedelta(days=days_ago)).isoformat()


DAYS_SINCE_1900 = (_today() - datetime.date(1900, 1, 1)).days

schemathesis.openapi.format("card-number", st.text("0123456789", min_size=11, max_size=18).map(_luhn_completed))
# From this month up to 30 years ahead (360 months).
schemathesis.openapi.format("card-expiry", st.integers(0, 359).map(_month_ahead))
schemathesis.openapi.format("date-of-birth", st.integers(1, DAYS_SINCE_1900).map(_day))
# An origin the merchant registered: the local stack's own (the demo merchant's).
schemathesis.openapi.format("merchant-return-url", st.from_regex(r"\A/[a-z0-9/-]{0,40}\Z").map(
    lambda path: os.environ["CONTRACT_RETURN_ORIGIN"] + path))


def _error_body(response: Response):
    if not response.headers.get("content-type", [""])[0].startswith("application/json"):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


@schemathesis.check
def invalid_parameter_names_the_field(ctx: CheckContext, response: Response, case: Case):
    if response.status_code != 400:
        return None
    body = _error_body(response)
    if body is None:
        return None
    code = body.get("code") or (body.get("error") or {}).get("reason")
    field = body.get("field") or (body.get("error") or {}).get("field")
    if code == "INVALID_PARAMETER" and not field:
        raise AssertionError(f"INVALID_PARAMETER without the field it is about: {body}")
    return None


@schemathesis.check
def every_answer_carries_its_request_id(ctx: CheckContext, response: Response, case: Case):
    header = response.headers.get("x-request-id", [None])[0]
    if not header:
        raise AssertionError("an answer without x-request-id")
    body = _error_body(response) if response.status_code >= 400 else None
    if body is not None and body.get("request_id") != header:
        raise AssertionError(f"the error body's request_id is not the header's {header!r}: {body}")
    return None
