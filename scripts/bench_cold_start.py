"""Cold-start benchmark: how long each function's release binary takes from exec to its
first `GET /2018-06-01/runtime/invocation/next` (reading configuration, building the HTTP
client and its TLS configuration, loading the AWS SDK configuration and the DynamoDB
client), then to answer one invocation, against a minimal Lambda Runtime API stub on
loopback. Reports the median and spread over N runs.

This is a benchmark (run by hand, numbers recorded in notes), not a test: timings on a
shared machine are noisy.

Usage:
  cargo build --release -p enroll -p check-enroll -p callback
  python3 scripts/bench_cold_start.py [RUNS]
  BENCH_STORE=dynamodb BENCH_DYNAMODB_ENDPOINT=http://127.0.0.1:PORT python3 scripts/bench_cold_start.py
"""

import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 20

EVENT = json.dumps({
    "resource": "/v1/risk/authentication/{reference_code}", "path": "/v1/risk/authentication/bench",
    "httpMethod": "GET", "headers": {"x-api-key": "bench-api-key-000001"},
    "multiValueHeaders": {"x-api-key": ["bench-api-key-000001"]},
    "requestContext": {"stage": "v1", "httpMethod": "GET", "domainName": "x.execute-api.eu-west-1.amazonaws.com",
                       "path": "/v1/v1/risk/authentication/bench", "requestId": "bench"},
    "body": None, "isBase64Encoded": False,
}).encode()


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    """Serves one invocation, then records the response."""
    first_next = None
    answered = None
    served = False

    def do_GET(self):
        if RuntimeApi.first_next is None:
            RuntimeApi.first_next = time.perf_counter()
        if RuntimeApi.served:
            time.sleep(2)  # the next invocation never comes
            return
        RuntimeApi.served = True
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-request")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:bench")
        self.send_header("Content-Length", str(len(EVENT)))
        self.end_headers()
        self.wfile.write(EVENT)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        RuntimeApi.answered = time.perf_counter()
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args):
        pass


def run_once(binary, env):
    # A fresh Runtime API per run: a killed process's next poll cannot reach the next run.
    RuntimeApi.first_next = RuntimeApi.answered = None
    RuntimeApi.served = False
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}"}
    started = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while RuntimeApi.answered is None and time.perf_counter() - started < 10:
            time.sleep(0.0005)
    finally:
        process.kill()
        process.wait()
        server.shutdown()
        server.server_close()
    if RuntimeApi.answered is None:
        raise SystemExit(f"{binary} did not answer an invocation")
    return (RuntimeApi.first_next - started) * 1000, (RuntimeApi.answered - started) * 1000


def main():
    env = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "1", "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        # The in-memory store: the benchmark measures our start-up, not a network store.
        # (With STORE_BACKEND=dynamodb the SDK client is built but not called at init.)
        "STORE_BACKEND": os.environ.get("BENCH_STORE", "memory"), "TABLE_NAME": "bench",
        "CLIENT_API_KEYS": "bench:bench-api-key-000001",
        "AHRVO_BASE_URL": "https://gateway.ahrvo.network", "AHRVO_API_KEY": "k", "AHRVO_ACCESS_TOKEN": "t",
        "FIRSTOKEN_BASE_URL": "https://api.firstoken-staging.co", "FIRSTOKEN_API_KEY": "k",
        "DATA_ENCRYPTION_KEYS": "k1:MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=",
        "SESSION_MAC_KEY": "bench-session-mac-key-0123456789abcdef",
        "REDIRECT_SIGNING_KEY": "bench-redirect-signing-key-0123456789",
        "ALLOWED_RETURN_ORIGINS": "https://shop.example",
        "AWS_LAMBDA_LOG_LEVEL": "warn",
    }
    if os.environ.get("BENCH_DYNAMODB_ENDPOINT"):
        # e.g. a moto_server: the first answer then includes one real store round trip.
        env["AWS_ENDPOINT_URL_DYNAMODB"] = os.environ["BENCH_DYNAMODB_ENDPOINT"]
    print(f"{RUNS} cold starts each, release x86_64 binaries, store={env['STORE_BACKEND']}")
    print(f"{'function':<14}{'size MB':>8}{'init p50 ms':>13}{'init p90':>10}{'first answer p50':>18}")
    for name in ("enroll", "check-enroll", "callback"):
        binary = ROOT / "target" / "release" / name
        if not binary.exists():
            raise SystemExit(f"build first: cargo build --release -p {name}")
        run_once(str(binary), env)  # warm the page cache, as Lambda's is for its image
        samples = [run_once(str(binary), env) for _ in range(RUNS)]
        init = sorted(s[0] for s in samples)
        answer = sorted(s[1] for s in samples)
        p90 = init[int(len(init) * 0.9) - 1]
        print(f"{name:<14}{binary.stat().st_size / 1e6:>8.1f}{statistics.median(init):>13.1f}{p90:>10.1f}"
              f"{statistics.median(answer):>18.1f}")


if __name__ == "__main__":
    main()
