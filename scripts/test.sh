#!/usr/bin/env bash
# The test command: `scripts/test.sh`.
#
# On a fresh machine with only the Rust toolchain (cargo-nextest), Python 3.11 and
# Node.js it installs what it needs into project-local directories, starts moto_server
# (DynamoDB) on loopback, runs every check and test, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
mkdir -p "$ROOT/target"

step() { printf '\n==> %s\n' "$*"; }
started=$(date +%s)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

step "Python tools into .venv (moto, aws-sam-cli, cargo-lambda)"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements.txt

step "moto_server (DynamoDB) on loopback"
port=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$VENV/bin/python" scripts/moto_dynamodb.py "$port" >"$ROOT/target/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  if "$VENV/bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then break; fi
  sleep 0.1
done
export GATEWAY_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
export GATEWAY_TEST_LOG_DIR="$ROOT/target/test-logs"
rm -rf "$GATEWAY_TEST_LOG_DIR"

step "Format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Unit and integration tests (sandbox + moto_server over loopback)"
cargo nextest run --workspace --locked --no-fail-fast

step "SAM template"
AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 "$VENV/bin/sam" validate --lint --template template.yaml

printf '\nAll checks passed in %ss.\n' "$(( $(date +%s) - started ))"
