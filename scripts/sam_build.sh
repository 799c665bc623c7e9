#!/usr/bin/env bash
# `scripts/sam_build.sh`: builds the seven functions as `sam deploy` ships them — `sam build`
# with the rust-cargolambda build method (release profile, arm64, cross-compiled by
# cargo-lambda with zig; no Docker) — and checks that each artifact is an aarch64 Linux
# executable named bootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
if [ ! -x "$VENV/bin/sam" ]; then
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements.txt
fi
export PATH="$PWD/$VENV/bin:$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

sam build --beta-features --template template.yaml --build-dir .aws-sam/build

"$VENV/bin/python" - <<'PY'
import os, struct, sys
from pathlib import Path

failed = False
for function in ("EnrollFunction", "CheckEnrollFunction", "CallbackFunction", "HistoryFunction", "NotifyFunction",
                 "JobsFunction", "JobWorkerFunction"):
    bootstrap = Path(".aws-sam/build") / function / "bootstrap"
    if not bootstrap.is_file():
        print(f"{function}: no bootstrap"); failed = True; continue
    header = bootstrap.read_bytes()[:20]
    machine = struct.unpack("<H", header[18:20])[0] if header[:4] == b"\x7fELF" else None
    ok = machine == 183 and os.access(bootstrap, os.X_OK)  # EM_AARCH64
    size = bootstrap.stat().st_size / 1e6
    print(f"{function}: bootstrap {'aarch64 ELF executable' if ok else 'NOT an aarch64 executable'}, {size:.1f} MB")
    failed |= not ok
sys.exit(1 if failed else 0)
PY
