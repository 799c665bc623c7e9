#!/usr/bin/env python3
"""Fair sharing under load: a benchmark on loopback, run by hand (docs/performance.md).

Starts the local stack (``gateway-local``: every function's routes, the upstream sandbox,
the in-memory store and the notify function's background work in one process) with two
merchants, seeds the noisy one with authentications whose webhooks hang, then runs
locust (``bench/load/locustfile.py``) twice for the same time:

* **baseline**: the quiet merchant's seed flows only;
* **noisy**: the same, while the noisy merchant storms filtered listings and
  redeliveries and a flood of junk return URLs comes in.

Prints, and writes to ``target/load/report.md``, the quiet flows' success rate and
p50/p99 in both runs, and the noise's own figures. Nothing is asserted: the machines are
noisy; compare the two runs of one sitting.

    python3 scripts/load_test.py                 # release build, 60 s per run
    python3 scripts/load_test.py --smoke         # debug build, 5 s per run (the test command)
"""

import argparse
import csv
import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-load"
OUT = ROOT / "target" / "load"
QUIET_KEY = "load-quiet-merchant-key-0001"
NOISY_KEY = "load-noisy-merchant-key-0001"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def digest(key):
    return hashlib.sha256(key.encode()).hexdigest()


class Receiver(http.server.BaseHTTPRequestHandler):
    """A webhook endpoint: the quiet merchant's answers at once, the noisy one's hangs."""

    hang = False
    received = 0
    lock = threading.Lock()

    def do_POST(self):  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.hang:
            time.sleep(30)
        with Receiver.lock:
            type(self).received += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def receiver(hang):
    handler = type("Hanging" if hang else "Healthy", (Receiver,), {"hang": hang, "received": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return handler, f"http://127.0.0.1:{server.server_address[1]}/hooks"


def registry(gateway, quiet_hook, noisy_hook):
    def merchant(tenant, key, hook):
        return {
            "id": tenant, "roles": ["merchant"], "api_key_sha256": [digest(key)],
            "merchant": {
                "return_origins": [gateway],
                "redirect_keys": [{"kid": f"{tenant}-1", "secret": f"load-redirect-key-of-{tenant}-0001"}],
                "webhook": {"url": hook, "keys": [{"kid": f"{tenant}-wh", "secret":
                            "whsec_bG9hZC10ZXN0LXdlYmhvb2stc2VjcmV0LW5vdC1mb3ItcHJvZA=="}]},
            },
        }
    return {"tenants": [merchant("quiet-shop", QUIET_KEY, quiet_hook),
                        merchant("noisy-shop", NOISY_KEY, noisy_hook)]}


def wait_port(port, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"nothing listens on {port}")


def post(gateway, path, key, body):
    request = urllib.request.Request(
        gateway + path, data=json.dumps(body).encode(), method="POST",
        headers={"content-type": "application/json", "x-api-key": key})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def seed_noisy(gateway, count):
    """Frictionless authentications of the noisy merchant: a history to list, and events
    whose deliveries hang."""
    sys.path.insert(0, str(ROOT / "bench" / "load"))
    from bodies import FRICTIONLESS_CARD, enroll_body, setup_body  # noqa: E402
    for n in range(count):
        reference = f"seed-{n:05d}"
        setup = post(gateway, "/v1/risk/authentication/setup", NOISY_KEY,
                     setup_body(reference, FRICTIONLESS_CARD))
        reference_id = setup["data"]["consumer_auth_info"]["reference_id"]
        post(gateway, "/v1/risk/authentication/enroll", NOISY_KEY,
             enroll_body(reference, FRICTIONLESS_CARD, reference_id, gateway))


def locust(gateway, name, seconds, classes):
    env = dict(os.environ, LOAD_QUIET_KEY=QUIET_KEY, LOAD_NOISY_KEY=NOISY_KEY,
               LOAD_QUIET_ORIGIN=gateway)
    users = sum(count for _, count in classes)
    for cls, count in classes:
        env[f"LOAD_{cls.upper()}_USERS"] = str(count)
    subprocess.run(
        [str(VENV / "bin" / "locust"), "-f", str(ROOT / "bench" / "load" / "locustfile.py"),
         "--headless", "--host", gateway, "-u", str(users), "-r", str(users),
         "--run-time", f"{seconds}s", "--csv", str(OUT / name), "--only-summary",
         "--loglevel", "WARNING", *[cls for cls, _ in classes]],
        env=env, check=False, stdout=subprocess.DEVNULL)
    with open(OUT / f"{name}_stats.csv") as stats:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(stats)}


def row_text(label, row):
    count, failures = int(row["Request Count"]), int(row["Failure Count"])
    success = 100.0 * (count - failures) / count if count else 0.0
    return (f"| {label} | {count} | {success:.1f}% | {float(row['50%']):.0f} ms | "
            f"{float(row['99%']):.0f} ms | {float(row['Requests/s']):.1f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="debug build, 5 s runs")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--seed", type=int, default=500, help="noisy authentications seeded")
    args = parser.parse_args()
    seconds, seed = (5, 50) if args.smoke else (args.seconds, args.seed)
    OUT.mkdir(parents=True, exist_ok=True)
    if not (VENV / "bin" / "locust").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet",
                        "--disable-pip-version-check", "-r",
                        str(ROOT / "scripts" / "requirements-load.txt")], check=True)
    profile = "debug" if args.smoke else "release"
    build = ["cargo", "build", "-p", "local", "--locked"] + ([] if args.smoke else ["--release"])
    subprocess.run(build, cwd=ROOT, check=True)

    port, sandbox_port = free_port(), free_port()
    gateway = f"http://127.0.0.1:{port}"
    quiet, quiet_hook = receiver(hang=False)
    noisy, noisy_hook = receiver(hang=True)
    tenants = OUT / "tenants.json"
    tenants.write_text(json.dumps(registry(gateway, quiet_hook, noisy_hook)))
    log = open(OUT / "gateway-local.log", "w")
    stack = subprocess.Popen(
        [str(ROOT / "target" / profile / "gateway-local"), "--port", str(port),
         "--sandbox-port", str(sandbox_port), "--tenants", str(tenants)],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, RUST_LOG="warn"))
    try:
        wait_port(port)
        started = time.time()
        seed_noisy(gateway, seed)
        print(f"seeded {seed} noisy authentications in {time.time() - started:.1f} s")
        baseline = locust(gateway, "baseline", seconds, [("QuietMerchant", 10)])
        quiet_before = quiet.received
        noisy_run = locust(gateway, "noisy", seconds,
                           [("QuietMerchant", 10), ("NoisyMerchant", 10), ("JunkReturns", 10)])
        quiet_during = quiet.received - quiet_before
    finally:
        stack.terminate()
        stack.wait()
    header = ("| | flows | success | p50 | p99 | per second |\n|---|---|---|---|---|---|")
    lines = [f"Loopback, {profile} build, {seconds} s per run, 10 quiet users; the noisy run "
             f"adds 10 users storming listings and redeliveries (over {seed} seeded "
             f"authentications whose webhooks hang) and 10 flooding junk return URLs.", "",
             header]
    empty = {"Request Count": "0", "Failure Count": "0", "50%": "0", "99%": "0",
             "Requests/s": "0"}
    for flow in ("frictionless", "challenged"):
        lines.append(row_text(f"{flow}, baseline", baseline.get(("FLOW", flow), empty)))
        lines.append(row_text(f"{flow}, with the noise", noisy_run.get(("FLOW", flow), empty)))
    lines += ["", "| the noise | requests | answered as expected | p50 | p99 | per second |",
              "|---|---|---|---|---|---|"]
    for (kind, name), row in sorted(noisy_run.items()):
        if name.startswith(("noisy", "junk")):
            lines.append(row_text(name, row))
    lines += ["", f"The quiet merchant's webhooks delivered during the noisy run: {quiet_during} "
                  f"(the noisy merchant's endpoint hangs: {noisy.received} of its deliveries "
                  "answered before the stack stopped)."]
    report = "\n".join(lines) + "\n"
    (OUT / "report.md").write_text(report)
    print(report)
    # Not a latency check: every flow of both runs must have been made and succeeded.
    for run in (baseline, noisy_run):
        for flow in ("frictionless", "challenged"):
            row = run.get(("FLOW", flow))
            if row is None or int(row["Request Count"]) == 0 or int(row["Failure Count"]) > 0:
                sys.exit(f"{flow}: a flow failed or none ran ({row})")


if __name__ == "__main__":
    main()
