"""Cold-start benchmark: how long each function's release binary takes from exec to its
first `GET /2018-06-01/runtime/invocation/next` (reading configuration, the secrets it
needs from Secrets Manager, building the HTTP client and its TLS configuration, the AWS
SDK configuration and the DynamoDB client), then to answer one invocation, against a
minimal Lambda Runtime API on loopback — and the same for a hello-world `lambda_http`
binary built with the same release profile (`bench/hello`), the floor, in the same run.
Each function's init is reported as a ratio to the floor's.

The functions run as on Lambda: the DynamoDB store, Secrets Manager for the tenant
registry, credentials and session keys. Both AWS services are a stub on loopback that
answers at once (`GetSecretValue` with the secret, `GetItem` with nothing), so the
figures are our start-up's, not a service's latency; the number of calls made before the
first poll is reported too (each costs a round trip on Lambda).

This is a benchmark (run by hand, numbers recorded in docs/performance.md), not a test: timings on
a shared machine are noisy.

Usage:
  cargo build --release -p enroll -p check-enroll -p callback -p hello-lambda
  python3 scripts/bench_cold_start.py [RUNS]
"""

import hashlib
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
API_KEY = "bench-merchant-key-000001"
ISSUER_KEY = "bench-issuer-key-0000001"


def rest_event(method, resource, path, api_key=None):
    headers = {"x-api-key": api_key} if api_key else {}
    return json.dumps({
        "resource": resource, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "requestContext": {"stage": "v1", "httpMethod": method, "resourcePath": resource,
                           "domainName": "x.execute-api.eu-west-1.amazonaws.com",
                           "path": f"/v1{path}", "requestId": "bench"},
        "body": None, "isBase64Encoded": False,
    }).encode()


# One request per function that touches no upstream: its answer measures our handling.
EVENTS = {
    "hello-lambda": rest_event("GET", "/hello", "/hello"),
    # the status of a session: one DynamoDB GetItem (the stub: no such item, 404)
    "check-enroll": rest_event("GET", "/v1/risk/authentication/{reference_code}",
                               "/v1/risk/authentication/bench-1", API_KEY),
    # a return URL with a wrong binding token: refused before the store (403)
    "callback": rest_event("GET", "/v1/risk/authentication/callback/{tenant}/{reference_code}/{binding}",
                           "/v1/risk/authentication/callback/bench-shop/bench-1/m1.not-the-token"),
    # an enrollment detail with an invalid card id: refused before the upstream (400)
    "enroll": rest_event("GET", "/card/issuance/api/issuing/3ds/v2/detail",
                         "/card/issuance/api/issuing/3ds/v2/detail", ISSUER_KEY),
}

SECRETS = {
    "bench/tenants": json.dumps({"tenants": [
        {"id": "bench-shop", "roles": ["merchant"], "api_key_sha256": [hashlib.sha256(API_KEY.encode()).hexdigest()],
         "merchant": {"return_origins": ["https://shop.example"]}},
        {"id": "bench-bank", "roles": ["issuer"], "api_key_sha256": [hashlib.sha256(ISSUER_KEY.encode()).hexdigest()],
         "issuer": {"budget_ids": ["ci202008281528472924"]}},
    ]}),
    "bench/card-issuance": json.dumps({"api_key": "k", "access_token": "t"}),
    "bench/payer-auth": json.dumps({"api_key": "k"}),
    "bench/session-keys": "bench-session-keys-generated-string-0123456789abcdef",
    "bench/issuer-keys": "bench-issuer-keys-generated-string-0123456789abcdef",
    # The registry's parts (gateway::tenants::parts), as deployed.
    "bench/tenants/redirect-keys": json.dumps({"tenants": {
        "bench-shop": [{"kid": "r1", "secret": "bench-redirect-signing-key-0123456789"}]}}),
    "bench/tenants/webhook-keys": json.dumps({"tenants": {}}),
    "bench/tenants/payer-auth": json.dumps({"tenants": {}}),
    "bench/tenants/card-issuance": json.dumps({"tenants": {}}),
}


class AwsStub(http.server.BaseHTTPRequestHandler):
    """Secrets Manager's GetSecretValue and BatchGetSecretValue and DynamoDB's GetItem,
    answered at once."""
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: without this, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every call, which is the stub's, not ours.
    disable_nagle_algorithm = True
    calls = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        target = self.headers.get("X-Amz-Target", "")
        AwsStub.calls += 1
        if target == "secretsmanager.GetSecretValue":
            secret_id = json.loads(body)["SecretId"]
            answer = {"ARN": f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{secret_id}",
                      "Name": secret_id, "SecretString": SECRETS[secret_id], "VersionId": "v1"}
        elif target == "secretsmanager.BatchGetSecretValue":
            ids = json.loads(body)["SecretIdList"]
            answer = {"SecretValues": [{"ARN": f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{i}",
                                        "Name": i, "SecretString": SECRETS[i], "VersionId": "v1"} for i in ids],
                      "Errors": []}
        elif target == "DynamoDB_20120810.GetItem":
            answer = {}
        else:
            answer = {}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    """Serves one invocation, then records the response."""
    disable_nagle_algorithm = True
    event = b""
    first_next = None
    answered = None
    answer = None
    served = False
    aws_calls_at_first_next = None

    def do_GET(self):
        if RuntimeApi.first_next is None:
            RuntimeApi.first_next = time.perf_counter()
            RuntimeApi.aws_calls_at_first_next = AwsStub.calls
        if RuntimeApi.served:
            time.sleep(2)  # the next invocation never comes
            return
        RuntimeApi.served = True
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-request")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:bench")
        self.send_header("Content-Length", str(len(RuntimeApi.event)))
        self.end_headers()
        self.wfile.write(RuntimeApi.event)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        RuntimeApi.answer = self.rfile.read(length)
        RuntimeApi.answered = time.perf_counter()
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args):
        pass


def serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_once(binary, event, env):
    # A fresh Runtime API per run: a killed process's next poll cannot reach the next run.
    RuntimeApi.event = event
    RuntimeApi.first_next = RuntimeApi.answered = RuntimeApi.answer = None
    RuntimeApi.served = False
    AwsStub.calls = 0
    server = serve(RuntimeApi)
    env = {**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}"}
    started = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while RuntimeApi.answered is None and time.perf_counter() - started < 10:
            time.sleep(0.0002)
    finally:
        process.kill()
        process.wait()
        server.shutdown()
        server.server_close()
    if RuntimeApi.answered is None:
        raise SystemExit(f"{binary} did not answer an invocation")
    status = json.loads(RuntimeApi.answer).get("statusCode")
    return ((RuntimeApi.first_next - started) * 1000, (RuntimeApi.answered - started) * 1000,
            RuntimeApi.aws_calls_at_first_next, status)


def main():
    aws = serve(AwsStub)
    endpoint = f"http://127.0.0.1:{aws.server_address[1]}"
    env = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "1", "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint, "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint,
        "TABLE_NAME": "bench",
        "TENANT_REGISTRY_SECRET_ID": "bench/tenants", "CARD_ISSUANCE_SECRET_ID": "bench/card-issuance",
        "PAYER_AUTH_SECRET_ID": "bench/payer-auth", "SESSION_KEYS_SECRET_ID": "bench/session-keys",
        "ISSUER_KEYS_SECRET_ID": "bench/issuer-keys",
        **{f"TENANT_{part.upper().replace('-', '_')}_SECRET_ID": f"bench/tenants/{part}"
           for part in ("redirect-keys", "webhook-keys", "payer-auth", "card-issuance")},
        "AHRVO_BASE_URL": "https://gateway.ahrvo.network",
        "FIRSTOKEN_BASE_URL": "https://api.firstoken-staging.co",
        "AWS_LAMBDA_LOG_LEVEL": "warn",
    }
    print(f"{RUNS} cold starts each, release binaries, DynamoDB store and Secrets Manager (stubs on loopback)")
    print(f"{'function':<14}{'size MB':>8}{'init p50 ms':>13}{'init p90':>10}{'x floor':>9}"
          f"{'AWS calls':>11}{'first answer p50':>18}{'status':>8}")
    floor = None
    for name in ("hello-lambda", "enroll", "check-enroll", "callback"):
        binary = ROOT / "target" / "release" / name
        if not binary.exists():
            raise SystemExit(f"build first: cargo build --release -p {name}")
        run_once(str(binary), EVENTS[name], env)  # warm the page cache, as Lambda's is for its image
        samples = [run_once(str(binary), EVENTS[name], env) for _ in range(RUNS)]
        init = sorted(s[0] for s in samples)
        answer = sorted(s[1] for s in samples)
        p90 = init[int(len(init) * 0.9) - 1]
        median = statistics.median(init)
        floor = floor or median
        print(f"{name:<14}{binary.stat().st_size / 1e6:>8.1f}{median:>13.1f}{p90:>10.1f}{median / floor:>9.2f}"
              f"{samples[0][2]:>11}{statistics.median(answer):>18.1f}{samples[0][3]:>8}")


if __name__ == "__main__":
    main()
