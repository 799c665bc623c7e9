"""Proves every events/ payload against the function binaries: through the real AWS SAM
CLI (`sam local invoke <Function> -e events/<file>.json` in Docker, `--sam`; the test
command runs it through scripts/sam_local.sh), or through a Lambda Runtime API emulator
(`cargo lambda watch` + `cargo lambda invoke`, the default: no Docker needed).

Runs the three functions (built by cargo, debug) with DynamoDB and Secrets Manager on the
moto_server the test command started (GATEWAY_TEST_DYNAMODB_ENDPOINT) — the secrets the
manifest names are created there first — and the upstream sandbox in its deterministic-ids
mode, then invokes the events in events/manifest.json order and checks
each response (status, JSON fields, redirect target, page text).

Usage: .venv/bin/python scripts/prove_events.py
       .venv/bin/python scripts/prove_events.py --sam TEMPLATE --invoke-image IMAGE --host ADDRESS
(with --sam, the sandbox listens on ADDRESS, the Docker bridge address the containers
reach, and GATEWAY_TEST_DYNAMODB_ENDPOINT is a moto_server listening there too).
"""

import argparse

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
LOG_DIR = Path(os.environ.get("GATEWAY_TEST_LOG_DIR", ROOT / "target" / "test-logs"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, what, process, timeout=120, host="127.0.0.1"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"{what} exited with {process.returncode} before listening (see {LOG_DIR})")
        try:
            socket.create_connection((host, port), 0.2).close()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{what} did not start listening on {port}")


def pointer(doc, path):
    for part in path.strip("/").split("/"):
        if isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        elif isinstance(doc, dict) and part in doc:
            doc = doc[part]
        else:
            return "<missing>"
    return doc


def post_form(url, fields):
    data = urllib.parse.urlencode(fields).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST"), timeout=10) as r:
        return r.read().decode()


def complete_challenge(captured, otp):
    """The cardholder at the sandbox ACS: the step-up JWT posted, then the code typed."""
    page = post_form(captured["stepup_url"], {"JWT": captured["access_token"], "MD": "null"})
    tid = re.search(r'name="TransactionId" value="([^"]+)"', page).group(1)
    post_form(captured["stepup_url"] + "/complete", {"TransactionId": tid, "MD": "null", "otp": otp, "action": "submit"})


class CargoLambda:
    """The Runtime API emulator: `cargo lambda watch` runs the functions, `invoke` calls them."""

    def __init__(self, settings, processes):
        self.port = free_port()
        path = f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"
        # cargo-lambda reads RUST_LOG too: at debug it would print into the invoke output.
        self.env = {k: v for k, v in os.environ.items() if k != "RUST_LOG"} | {"PATH": path}
        env_file = ROOT / "target" / "events.env"
        env_file.write_text("\n".join(f'{k}="{v}"' for k, v in settings.items()) + "\n")
        watch_log = open(LOG_DIR / "lambda-watch.log", "w")
        processes.append(subprocess.Popen(
            ["cargo", "lambda", "watch", "--ignore-changes", "--invoke-address", "127.0.0.1",
             "--invoke-port", str(self.port), "--env-file", str(env_file)],
            cwd=ROOT, env=self.env, stdout=watch_log, stderr=subprocess.STDOUT))
        wait_for_port(self.port, "cargo lambda watch", processes[-1])

    def invoke(self, step):
        return subprocess.run(
            ["cargo", "lambda", "invoke", step["function"], "--invoke-address", "127.0.0.1",
             "--invoke-port", str(self.port), "--data-file", f"events/{step['event']}", "--output-format", "json"],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=300)

    def stop(self):
        # cargo lambda watch runs each function as a child process: stop them too.
        subprocess.run(["pkill", "-f", f"AWS_LAMBDA_RUNTIME_API=127.0.0.1:{self.port}"], check=False)


class SamLocal:
    """The real AWS SAM CLI: `sam local invoke` of the template's function, in a container
    of the given image (never pulled). Its output (the functions' logs among SAM's own
    lines) is kept for the log scan."""

    def __init__(self, template, image, settings):
        self.template, self.image = template, image
        self.env_file = LOG_DIR.parent / "sam-local-env.json"
        # Only the variables the template declares are set (the test copy declares the
        # SDK endpoint variables too).
        self.env_file.write_text(json.dumps({"Parameters": settings}))
        self.log = open(LOG_DIR / f"sam-local-invoke-{Path(template).parent.name}.log", "w")
        self.env = dict(os.environ) | {
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0",
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
            # SAM asks STS for the account id before each invoke: moto answers it, so
            # nothing leaves this machine (and no invoke waits for a timeout).
            "AWS_ENDPOINT_URL_STS": os.environ["GATEWAY_TEST_DYNAMODB_ENDPOINT"], "AWS_EC2_METADATA_DISABLED": "true",
        }
        self.times = []

    def invoke(self, step):
        started = time.monotonic()
        run = subprocess.run(
            ["sam", "local", "invoke", step["sam_function"], "--template", str(self.template),
             "--event", f"events/{step['event']}", "--env-vars", str(self.env_file),
             "--skip-pull-image", "--invoke-image", self.image],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=300)
        self.times.append(time.monotonic() - started)
        # Kept for the log scan, less SAM's container ids (random hex whose digit runs can
        # pass a card number's check): every other line, the functions' own included.
        kept = without_container_ids(run.stderr)
        self.log.write(f"--- {step['event']}\n{kept}\n")
        self.log.flush()
        # The response is the last line SAM prints on stdout.
        lines = [line for line in run.stdout.splitlines() if line.strip()]
        run.stdout = lines[-1] if lines else ""
        return run

    def stop(self):
        if self.times:
            print(f"sam local invoke: {len(self.times)} invokes, mean {sum(self.times) / len(self.times):.2f} s, "
                  f"max {max(self.times):.2f} s")


def provision(endpoint, table, secrets):
    """What the template would create, on moto: the table (its two sparse indexes and its
    change stream), the delivery and job queues, and the named secrets. Returns a DynamoDB
    client and the functions' settings but for the upstreams' base URLs."""
    client = lambda service: boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                                          aws_access_key_id="test", aws_secret_access_key="test")
    dynamodb = client("dynamodb")
    index = lambda name, pk, sk, projection: {"IndexName": name, "Projection": projection,
                                  "KeySchema": [{"AttributeName": pk, "KeyType": "HASH"},
                                                {"AttributeName": sk, "KeyType": "RANGE"}]}
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in
                                                [("pk", "S"), ("sweep_pk", "S"), ("sweep_sk", "N"),
                                                 ("list_pk", "S"), ("list_sk", "S")]],
                          GlobalSecondaryIndexes=[index("by_deadline", "sweep_pk", "sweep_sk",
                                                        {"ProjectionType": "INCLUDE",
                                                         "NonKeyAttributes": ["tenant_id", "reference_code"]}),
                                                  index("by_tenant", "list_pk", "list_sk",
                                                        {"ProjectionType": "KEYS_ONLY"})],
                          StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    sqs = client("sqs")
    delivery_queue = sqs.create_queue(QueueName=f"{table}-deliveries")["QueueUrl"]
    job_queue = sqs.create_queue(QueueName=f"{table}-jobs")["QueueUrl"]
    secretsmanager = client("secretsmanager")
    secret_ids = {}
    for name, value in secrets.items():
        secret_ids[name] = f"{table}/{name}"
        secretsmanager.create_secret(Name=secret_ids[name], SecretString=json.dumps(value))
    return dynamodb, {
        "TABLE_NAME": table,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint, "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint,
        "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "TENANT_REGISTRY_SECRET_ID": secret_ids["tenants"],
        "TENANT_REDIRECT_KEYS_SECRET_ID": secret_ids["tenants/redirect-keys"],
        "TENANT_WEBHOOK_KEYS_SECRET_ID": secret_ids["tenants/webhook-keys"],
        "TENANT_PAYER_AUTH_SECRET_ID": secret_ids["tenants/payer-auth"],
        "TENANT_CARD_ISSUANCE_SECRET_ID": secret_ids["tenants/card-issuance"],
        "SESSION_KEYS_SECRET_ID": secret_ids["session_keys"],
        "ISSUER_KEYS_SECRET_ID": secret_ids["issuer_keys"],
        "CARD_ISSUANCE_SECRET_ID": secret_ids["card_issuance"],
        "PAYER_AUTH_SECRET_ID": secret_ids["payer_auth"],
        "DELIVERY_QUEUE_URL": delivery_queue, "AWS_ENDPOINT_URL_SQS": endpoint,
        # The jobs' bucket and queues (the job events are refused or finished before
        # either is used).
        "JOBS_BUCKET": f"{table}-jobs", "JOB_QUEUE_URL": job_queue, "AWS_ENDPOINT_URL_S3": endpoint,
        "JOB_DEAD_LETTER_QUEUE_ARN": "arn:aws:sqs:eu-west-1:123456789012:jobs-dead",
        # The functions log at the most verbose level the template offers: the log scan
        # then shows nothing sensitive is written at any level (raw events included).
        "AWS_LAMBDA_LOG_LEVEL": "TRACE",
    }


def start_sandbox(host, processes, *flags, log_name="events-sandbox.log"):
    """The upstream sandbox on HOST (for containers: the Docker bridge address), its log
    in LOG_DIR/log_name (one per run: the log scan reads them all)."""
    port = free_port()
    with open(LOG_DIR / log_name, "w") as log:
        processes.append(subprocess.Popen(
            [str(ROOT / "target" / "debug" / "sandbox"), "--listen", f"{host}:{port}", *flags],
            stdout=log, stderr=subprocess.STDOUT))
    wait_for_port(port, "the sandbox", processes[-1], host=host)
    return f"http://{host}:{port}"


def checked(step, response, captured, items):
    """What is wrong with a function's `response` to `step` (its manifest `expect`), a
    detail to show with it, and its status; a challenge it started is kept in `captured`.
    `items()` reads the table (for the events a background function must have recorded)."""
    expect, problems = step["expect"], []
    if "response" in expect:
        # A function that is not behind API Gateway: its answer itself.
        problems = [f"{path_} = {pointer(response, path_)!r}, expected {value!r}"
                    for path_, value in expect["response"].items() if pointer(response, path_) != value]
        recorded = expect.get("event_recorded")
        if recorded and not any(item.get("tenant_id", {}).get("S") == recorded["tenant"]
                                and item.get("type", {}).get("S") == recorded["type"] for item in items()):
            problems.append(f"no {recorded['type']} event recorded for {recorded['tenant']}")
        return problems, json.dumps(response)[:300], ""
    body = response.get("body") or ""
    # REST (v1) responses carry headers in multiValueHeaders; HTTP API ones in headers.
    headers = {k.lower(): v[0] for k, v in (response.get("multiValueHeaders") or {}).items() if v}
    headers.update({k.lower(): v for k, v in (response.get("headers") or {}).items()})
    if response.get("statusCode") != expect["status"]:
        problems.append(f"status {response.get('statusCode')}, expected {expect['status']}")
    for path_, value in expect.get("json", {}).items():
        actual = pointer(json.loads(body), path_) if body.startswith("{") else "<not JSON>"
        if actual != value:
            problems.append(f"{path_} = {actual!r}, expected {value!r}")
    if "location_prefix" in expect and not headers.get("location", "").startswith(expect["location_prefix"]):
        problems.append(f"location {headers.get('location')!r}")
    if "body_contains" in expect and expect["body_contains"] not in body:
        problems.append(f"body lacks {expect['body_contains']!r}")
    if "capture" in step and not problems:
        info = json.loads(body)["data"]["consumer_auth_info"]
        captured[step["capture"]] = {"stepup_url": info["stepup_url"], "access_token": info["access_token"]}
    return problems, f"body: {body[:300]}", response.get("statusCode")


def stop(processes, patience=10):
    """Stops what a run started, newest first, each before the next (SIGTERM: what
    `sam local start-api` stops on; it then stops its containers, which may still call
    the sandbox)."""
    for process in reversed(processes):
        process.terminate()
        try:
            process.wait(timeout=patience)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def without_container_ids(text):
    """SAM's output less its `SAM_CONTAINER_ID:` lines: random hex whose digit runs can pass
    a card number's check. Every other line (the functions' own) is kept for the log scan."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("SAM_CONTAINER_ID:"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sam", metavar="TEMPLATE", help="invoke through sam local invoke with this template")
    parser.add_argument("--invoke-image", help="the image sam local invoke runs the functions in")
    parser.add_argument("--host", default="127.0.0.1", help="the address the sandbox listens on")
    parser.add_argument("--only", help="comma-separated events to run (each needing no earlier one)")
    args = parser.parse_args()
    manifest = json.loads((ROOT / "events" / "manifest.json").read_text())
    if args.only:
        wanted = args.only.split(",")
        manifest["steps"] = [step for step in manifest["steps"] if step["event"] in wanted]
        if len(manifest["steps"]) != len(wanted):
            sys.exit(f"--only names events the manifest does not have: {args.only}")
    endpoint = os.environ.get("GATEWAY_TEST_DYNAMODB_ENDPOINT")
    if not endpoint:
        sys.exit("GATEWAY_TEST_DYNAMODB_ENDPOINT is not set: run scripts/test.sh")
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    table = f"events-proof-{os.getpid()}"
    dynamodb, settings = provision(endpoint, table, manifest["secrets"])

    processes, runner = [], None
    try:
        sandbox = start_sandbox(args.host, processes, "--deterministic-ids")
        settings |= {"AHRVO_BASE_URL": sandbox, "FIRSTOKEN_BASE_URL": sandbox}
        runner = SamLocal(args.sam, args.invoke_image, settings) if args.sam else CargoLambda(settings, processes)

        captured, failures = {}, []
        for step in manifest["steps"]:
            before = step.get("before", {})
            if "complete_challenge" in before:
                if before["complete_challenge"] not in captured:
                    failures.append(f"{step['event']}: its challenge was never started")
                    print(f"  {step['function']:<13} {step['event']:<52} FAILED: its challenge was never started")
                    continue
                complete_challenge(captured[before["complete_challenge"]], before["otp"])
            run = runner.invoke(step)
            try:
                response = json.loads(run.stdout)
            except json.JSONDecodeError:
                failures.append(f"{step['event']}: no response ({run.stderr.strip()[-400:]})")
                print(f"  {step['function']:<13} {step['event']:<52} FAILED: no response")
                continue
            problems, detail, status = checked(step, response, captured,
                                               lambda: dynamodb.scan(TableName=table)["Items"])
            verdict = "ok" if not problems else "FAILED: " + "; ".join(problems)
            print(f"  {step['function']:<13} {step['event']:<52} {status} {verdict}")
            if problems:
                failures.append(f"{step['event']}: {'; '.join(problems)} ({detail})")
        if failures:
            print("\n".join(["", "events that did not produce their expected response:", *failures]))
            sys.exit(1)
        print(f"all {len(manifest['steps'])} events produced their expected responses")
    finally:
        if runner is not None:
            runner.stop()
        stop(processes)


if __name__ == "__main__":
    main()
