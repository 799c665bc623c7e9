"""The API contract, tested by a fuzzer nobody here wrote: Schemathesis against the local
stack (`gateway-local`, which dispatches to the functions' own routers), every operation
of the document it serves at /v1/openapi.json, with each role's key.

For each tag of the document (merchant, issuer, history, browser) Schemathesis generates
valid and invalid requests from the document (its examples, its coverage of every
boundary and every missing or wrong field, random fuzzing, and stateful sequences along
the document's links) and checks every answer: no 5xx, the status, content type, headers
and body the document gives for it, schema-valid data accepted and invalid data refused,
and ours (scripts/contract_checks.py): a refused field is named, every answer carries its
request id.

Usage: .venv-contract/bin/python scripts/fuzz_contract.py [--store memory|dynamodb]
           [--max-examples N] [--seed N] [--max-time SECONDS]
(with --store dynamodb, GATEWAY_TEST_DYNAMODB_ENDPOINT names a moto_server). The test
command runs it with the defaults below on both stores; docs/api.md says how to run longer.
"""

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
LOG_DIR = Path(os.environ.get("GATEWAY_TEST_LOG_DIR", ROOT / "target" / "test-logs"))
REPORTS = ROOT / "target" / "contract"

# The local stack's demo tenants (local/src/tenants.rs): development keys, printed at start.
ISSUER_KEY = "local-issuer-key-0000001"
MERCHANT_KEY = "local-merchant-key-000001"
# Each tag of the document with the key its routes are called with; the routes every
# tenant calls, once with each role's key.
RUNS = [
    ("merchant", MERCHANT_KEY),
    ("issuer", ISSUER_KEY),
    ("history", MERCHANT_KEY),
    ("history", ISSUER_KEY),
    ("browser", None),
]
# The CI defaults: bounded in examples and time, the seed fixed so a run is repeatable.
SEED = 20261130
MAX_EXAMPLES = 12


# (scripts/prove_events.py has these two as well, but it imports boto3, which this
# virtualenv does not hold.)
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, process, timeout=60):
    import urllib.request
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"gateway-local exited with {process.returncode} (see {LOG_DIR})")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{url} did not answer")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["memory", "dynamodb"], default="memory")
    parser.add_argument("--max-examples", type=int, default=MAX_EXAMPLES)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--max-time", type=int, help="a time budget per run, in seconds")
    args = parser.parse_args()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    REPORTS.mkdir(parents=True, exist_ok=True)

    port, sandbox_port = free_port(), free_port()
    flags = ["--port", str(port), "--sandbox-port", str(sandbox_port)]
    if args.store == "dynamodb":
        flags += ["--dynamodb-endpoint", os.environ["GATEWAY_TEST_DYNAMODB_ENDPOINT"],
                  "--table", f"contract-{os.getpid()}"]
    # Its JSON log lines where the log scan reads them; its banner and any panic beside the reports.
    with open(LOG_DIR / f"contract-{args.store}.log", "w") as log, \
            open(REPORTS / f"gateway-local-{args.store}.stderr", "w") as stderr:
        stack = subprocess.Popen([str(ROOT / "target" / "debug" / "gateway-local"), *flags],
                                 env=dict(os.environ) | {"RUST_LOG": os.environ.get("RUST_LOG", "debug")},
                                 stdout=log, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    failed = []
    try:
        wait_for(f"{base}/v1/openapi.json", stack)
        for tag, key in RUNS:
            role = "keyless" if key is None else ("issuer" if key == ISSUER_KEY else "merchant")
            name = f"{args.store}-{tag}-{role}"
            command = [
                str(VENV_BIN / "schemathesis"), "--config-file", str(ROOT / "schemathesis.toml"),
                "run", f"{base}/v1/openapi.json", "--url", base,
                "--include-tag", tag, "--checks", "all", "--seed", str(args.seed),
                "--max-examples", str(args.max_examples), "--workers", "1",
                "--request-timeout", "30", "--report", "junit",
                "--report-junit-path", str(REPORTS / f"{name}.xml"),
            ]
            if key is not None:
                command += ["--header", f"x-api-key: {key}"]
            else:
                # The browser's routes are linked to from the merchant's (the return URL
                # check enroll hands out), none among themselves: no stateful phase.
                command += ["--phases", "examples,coverage,fuzzing"]
            if args.max_time:
                command += ["--max-time", str(args.max_time)]
            started = time.monotonic()
            print(f"--- schemathesis: {tag} routes, {role} key, {args.store} store", flush=True)
            run = subprocess.run(command, cwd=REPORTS, env=dict(os.environ) | {
                "SCHEMATHESIS_HOOKS": "contract_checks", "PYTHONPATH": str(ROOT / "scripts"),
                "CONTRACT_RETURN_ORIGIN": base,
                "SCHEMATHESIS_TELEMETRY": "false", "NO_COLOR": "1"})
            print(f"--- {name}: exit {run.returncode} in {time.monotonic() - started:.0f} s", flush=True)
            if run.returncode != 0:
                failed.append(name)
    finally:
        stack.terminate()
        try:
            stack.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stack.kill()
            stack.wait()
    if failed:
        sys.exit(f"Schemathesis found failures in: {', '.join(failed)} (reports in {REPORTS})")
    print(f"Schemathesis: no failure on the {args.store} store ({len(RUNS)} runs)")


if __name__ == "__main__":
    main()
