"""The browser's flows through the real `sam local start-api` (scripts/sam_local.sh
browser runs it; the test command runs that).

SAM's local API Gateway serves the template's routes from the functions' bootstraps in
containers (the API Gateway events are SAM's, not ours); DynamoDB and Secrets Manager are
moto's and the upstream is the sandbox, both on the Docker bridge address the containers
reach. In front of it runs the demo merchant alone (`gateway-local --gateway URL`): its
checkout page, its backend holding the API key, its result page verifying the signed
redirect. Headless Chromium then pays through it (e2e/sam-local.test.mjs): the checkout
loads gateway.js from SAM, the bank's page (the sandbox) posts to the return URL SAM
serves, and the signed redirect is verified by the merchant's page and by the test.

No change stream is consumed here (start-api runs no event sources): the webhook flows are
the local stack's browser tests.

Usage: .venv/bin/python scripts/sam_start_api.py --template T --invoke-image IMAGE --host ADDRESS
(GATEWAY_TEST_DYNAMODB_ENDPOINT: a moto_server listening on ADDRESS).
"""

import argparse
import copy
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

from prove_events import (LOG_DIR, ROOT, VENV_BIN, free_port, provision, start_sandbox, stop, wait_for_port,
                          without_container_ids)

# The demo merchant (local/src/tenants.rs; e2e/support.mjs verifies with the same key).
TENANT = "demo-shop"
API_KEY = "local-merchant-key-000001"
REDIRECT_KEY = {"kid": "demo-shop-1", "secret": "local-dev-redirect-key-demo-shop-0000001"}
# How long SAM may take to answer its first request (it starts a container on the first).
START_TIMEOUT = 120
# How long the three browser flows may take, all told.
BROWSER_TIMEOUT = 600


def registry(origin):
    """The registry as an operator would store it: the routing document, whose merchant
    returns to the demo's origin, and the redirect keys' part."""
    routing = {"tenants": [{
        "id": TENANT, "roles": ["merchant"],
        "api_key_sha256": [hashlib.sha256(API_KEY.encode()).hexdigest()],
        "merchant": {"return_origins": [origin]},
    }]}
    return routing, {"tenants": {TENANT: [REDIRECT_KEY]}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--template", required=True)
    parser.add_argument("--invoke-image", required=True)
    parser.add_argument("--host", required=True, help="the Docker bridge address (sandbox and moto)")
    args = parser.parse_args()
    endpoint = os.environ["GATEWAY_TEST_DYNAMODB_ENDPOINT"]
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    work = ROOT / "target" / "sam-local" / "start-api"
    work.mkdir(parents=True, exist_ok=True)

    api_port, demo_port = free_port(), free_port()
    api, demo = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{demo_port}"
    routing, redirect_keys = registry(demo)
    secrets = json.loads((ROOT / "events" / "manifest.json").read_text())["secrets"]
    secrets |= {"tenants": routing, "tenants/redirect-keys": redirect_keys}
    _, settings = provision(endpoint, f"start-api-{os.getpid()}", secrets)
    # The demo's own copy of its merchant (whole: the demo verifies with the redirect key).
    tenants_file = work / "tenants.json"
    whole = copy.deepcopy(routing)
    whole["tenants"][0]["merchant"]["redirect_keys"] = [REDIRECT_KEY]
    tenants_file.write_text(json.dumps(whole))

    processes = []
    raw_log = work / "start-api.log"
    try:
        sandbox = start_sandbox(args.host, processes, log_name="sam-local-start-api-sandbox.log")
        settings |= {
            "AHRVO_BASE_URL": sandbox, "FIRSTOKEN_BASE_URL": sandbox,
            # The browser reaches SAM on loopback, over http (a test-only allowance the
            # deployed template does not declare).
            "PUBLIC_BASE_URL": api, "ALLOW_INSECURE_LOOPBACK_URLS": "true",
        }
        env_file = work / "env.json"
        env_file.write_text(json.dumps({"Parameters": settings}))
        sam_env = dict(os.environ) | {
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0",
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_STS": endpoint, "AWS_EC2_METADATA_DISABLED": "true",
        }
        started = time.monotonic()
        with open(raw_log, "w") as log:
            processes.append(subprocess.Popen(
                ["sam", "local", "start-api", "--template", args.template, "--env-vars", str(env_file),
                 "--host", "127.0.0.1", "--port", str(api_port), "--skip-pull-image",
                 "--invoke-image", args.invoke_image, "--warm-containers", "LAZY"],
                cwd=ROOT, env=sam_env, stdout=log, stderr=subprocess.STDOUT))
        wait_for_port(api_port, "sam local start-api", processes[-1], timeout=START_TIMEOUT)
        print(f"sam local start-api serving {api} after {time.monotonic() - started:.1f} s")

        with open(LOG_DIR / "sam-local-demo.log", "w") as log:
            processes.append(subprocess.Popen(
                [str(ROOT / "target" / "debug" / "gateway-local"), "--gateway", api, "--port", str(demo_port),
                 "--tenants", str(tenants_file), "--demo-merchant-key", API_KEY],
                env=dict(os.environ) | {"RUST_LOG": "debug"}, stdout=log, stderr=subprocess.STDOUT))
        wait_for_port(demo_port, "the demo merchant", processes[-1])

        # In a process group of its own: past its time, npm, node and Chromium all go.
        browser = subprocess.Popen(["npm", "run", "--silent", "test:sam-local", "--prefix", str(ROOT / "e2e")],
                                   env=dict(os.environ) | {"DEMO_URL": demo, "GATEWAY_URL": api},
                                   start_new_session=True)
        try:
            returncode = browser.wait(timeout=BROWSER_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(browser.pid, signal.SIGKILL)
            browser.wait()
            returncode = f"timeout after {BROWSER_TIMEOUT} s"
        if returncode != 0:
            tail = raw_log.read_text().splitlines()[-40:]
            print("sam local start-api's last lines:", *tail, sep="\n  ")
            sys.exit(f"the browser flows through sam local start-api failed ({returncode})")
    finally:
        # start-api stops its warm containers on SIGTERM.
        stop(processes, patience=30)
        if raw_log.exists():
            (LOG_DIR / "sam-local-start-api.log").write_text(without_container_ids(raw_log.read_text()) + "\n")


if __name__ == "__main__":
    main()
