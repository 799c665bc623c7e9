"""Fair sharing under load, on the local stack (scripts/load_test.py runs it).

Three kinds of users:

* ``QuietMerchant`` (tenant ``quiet-shop``): the seed flows, as a checkout runs them.
  A frictionless authentication (setup, check enroll, status) and a challenged one
  (setup, check enroll, the cardholder at the sandbox's ACS, the browser's return).
  Each whole flow is also reported as one ``FLOW`` request: its success and its time.
* ``NoisyMerchant`` (tenant ``noisy-shop``): a storm of filtered listings
  (``?state=CANCELED&limit=1``, ``/v1/events?type=...``) and redeliveries of its events
  (whose webhook endpoint hangs).
* ``JunkReturns`` (anyone on the internet): return URLs with made-up tenants, reference
  codes and binding tokens, by POST and GET.

The baseline run has quiet merchants only; the noisy run adds the other two.
"""

import os
import random
import re
import string
import time
import uuid

from locust import FastHttpUser, between, constant, events, task

from bodies import CHALLENGE_CARD, FRICTIONLESS_CARD, enroll_body, setup_body

QUIET_KEY = os.environ.get("LOAD_QUIET_KEY", "load-quiet-merchant-key-0001")
QUIET_ORIGIN = os.environ.get("LOAD_QUIET_ORIGIN", "http://127.0.0.1:3000")
NOISY_KEY = os.environ.get("LOAD_NOISY_KEY", "load-noisy-merchant-key-0001")
def html_attr(page, marker):
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)]


class FlowFailed(Exception):
    pass


def report_flow(user, name, started, error):
    events.request.fire(
        request_type="FLOW", name=name, response_time=(time.perf_counter() - started) * 1000,
        response_length=0, exception=error, context={}, url=None, response=None)


def users(name):
    """How many users of a class the runner asked for (``LOAD_<CLASS>_USERS``)."""
    return int(os.environ.get(f"LOAD_{name.upper()}_USERS", "1"))


class QuietMerchant(FastHttpUser):
    """The seed flows of a merchant that only wants to take payments."""

    fixed_count = users("QuietMerchant")
    wait_time = between(0.1, 0.3)
    headers = {"x-api-key": QUIET_KEY}

    def expect(self, response, status, what):
        if response.status_code != status:
            raise FlowFailed(f"{what}: {response.status_code}")
        return response

    def check_enroll(self, reference, card):
        setup = self.expect(self.client.post(
            "/v1/risk/authentication/setup", json=setup_body(reference, card),
            headers=self.headers, name="setup"), 200, "setup")
        reference_id = setup.json()["data"]["consumer_auth_info"]["reference_id"]
        return self.expect(self.client.post(
            "/v1/risk/authentication/enroll", json=enroll_body(reference, card, reference_id, QUIET_ORIGIN),
            headers=self.headers, name="check enroll"), 200, "check enroll").json()

    def flow(self, name, steps):
        started, error = time.perf_counter(), None
        try:
            steps()
        except Exception as failure:  # noqa: BLE001 - every failure counts against the flow
            error = failure
        report_flow(self, name, started, error)

    @task(2)
    def frictionless(self):
        def steps():
            reference = f"f-{uuid.uuid4().hex[:16]}"
            self.check_enroll(reference, FRICTIONLESS_CARD)
            status = self.expect(self.client.get(
                f"/v1/risk/authentication/{reference}", headers=self.headers, name="status"),
                200, "status")
            if status.json()["data"]["state"] != "AUTHENTICATED":
                raise FlowFailed(status.json()["data"]["state"])
        self.flow("frictionless", steps)

    @task(1)
    def challenged(self):
        def steps():
            reference = f"c-{uuid.uuid4().hex[:16]}"
            answer = self.check_enroll(reference, CHALLENGE_CARD)
            info = answer["data"]["consumer_auth_info"]
            # The cardholder at the sandbox's ACS (the upstream, not the gateway).
            stepup = info["stepup_url"]
            page = self.client.post(stepup, data={"JWT": info["access_token"], "MD": "m"},
                                    name="acs page").text
            returned = self.client.post(
                stepup.replace("/V2/Cruise/StepUp", "/V2/Cruise/StepUp/complete"),
                data={"TransactionId": html_attr(page, 'name="TransactionId" value="'),
                      "MD": "m", "otp": "1234", "action": "submit"},
                name="acs submit").text
            action = html_attr(returned, 'action="')
            path = re.sub(r"^https?://[^/]+", "", action)
            back = self.client.post(
                path, name="browser return", allow_redirects=False,
                data={"TransactionId": html_attr(returned, 'name="TransactionId" value="'),
                      "MD": html_attr(returned, 'name="MD" value="')})
            self.expect(back, 303, "browser return")
            if "status=authenticated" not in back.headers.get("location", ""):
                raise FlowFailed(back.headers.get("location", "no location"))
        self.flow("challenged", steps)


class NoisyMerchant(FastHttpUser):
    """A tenant that reads its history as hard as it can and asks for redeliveries."""

    fixed_count = users("NoisyMerchant")
    wait_time = constant(0)
    headers = {"x-api-key": NOISY_KEY}
    event_ids = []

    @task(3)
    def filtered_listing(self):
        self.client.get("/v1/risk/authentication?state=CANCELED&limit=1",
                        headers=self.headers, name="noisy: filtered listing")

    @task(2)
    def filtered_events(self):
        response = self.client.get("/v1/events?type=authentication.failed&limit=100",
                                   headers=self.headers, name="noisy: filtered events")
        if not NoisyMerchant.event_ids:
            listing = self.client.get("/v1/events?limit=100", headers=self.headers,
                                      name="noisy: events")
            if listing.status_code == 200:
                NoisyMerchant.event_ids = [e["id"] for e in listing.json()["data"]["events"]]
        return response

    @task(2)
    def redeliver(self):
        if NoisyMerchant.event_ids:
            event_id = random.choice(NoisyMerchant.event_ids)
            with self.client.post(f"/v1/events/{event_id}/redeliver", json={},
                                  headers=self.headers, name="noisy: redeliver",
                                  catch_response=True) as response:
                # Refusals are the caps working, not failures of the run.
                if response.status_code in (202, 409, 429):
                    response.success()


def junk_segment(alphabet, length):
    return "".join(random.choice(alphabet) for _ in range(length))


class JunkReturns(FastHttpUser):
    """A flood of return URLs that are not ours."""

    fixed_count = users("JunkReturns")
    wait_time = constant(0)

    @task
    def junk(self):
        tenant = junk_segment(string.ascii_lowercase, 8)
        reference = junk_segment(string.ascii_letters + string.digits, 12)
        binding = "k1." + junk_segment(string.ascii_letters + string.digits + "-_", 43)
        path = f"/v1/risk/authentication/callback/{tenant}/{reference}/{binding}"
        method = random.choice(["post", "get"])
        with getattr(self.client, method)(path, name=f"junk return ({method.upper()})",
                                          catch_response=True) as response:
            if response.status_code == 403:
                response.success()
