#!/usr/bin/env bash
# `scripts/sam_local.sh [prove | shell]`: the real AWS SAM CLI on this machine, in one
# command, with nothing pulled from a registry.
#
#   prove (the default; the test command runs it): every events/ payload through
#          `sam local invoke` of the template's functions, each response checked
#          (scripts/prove_events.py --sam), the functions' logs kept for the log scan.
#   shell: the same setup, then a shell with DOCKER_HOST, the test template and the
#          endpoints exported, to run `sam local invoke` / `sam local start-api` by hand.
#
# What it does (root needed, for apt and dockerd):
#   1. Docker Engine from Debian's packages (docker.io; busybox-static for the image),
#      started on its own socket and data root, with no iptables rules, no forwarding and
#      no masquerading: containers reach this machine's bridge address and nothing else.
#      Stopped on exit by its PID, and the bridge it made removed.
#   2. The Lambda base image: the real public.ecr.aws/lambda/provided:al2023 when Docker
#      already has it; else a stand-in built here (this machine's glibc and libgcc_s and a
#      static busybox), loaded with `docker import`. SAM adds its runtime emulator on top.
#      `--skip-pull-image` always.
#   3. A test copy of template.yaml: x86_64, each CodeUri at a directory holding the
#      function's host-built binary as `bootstrap`, the SDK endpoint variables declared
#      (so --env-vars can set them; the deployed template carries none).
#   4. moto_server and the sandbox on the bridge address (a container's 127.0.0.1 is its own).
#
# Functions are the host's debug builds (`cargo build --bins`); set SAM_LOCAL_PROFILE=release
# for release ones. Work files live in target/sam-local; Docker's data in a temp directory.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
MODE=${1:-prove}
WORK=$ROOT/target/sam-local
LOGS=${GATEWAY_TEST_LOG_DIR:-$ROOT/target/test-logs}
PROFILE=${SAM_LOCAL_PROFILE:-debug}
BRIDGE_IP=${SAM_LOCAL_BRIDGE_IP:-172.17.0.1}
REAL_IMAGE=public.ecr.aws/lambda/provided:al2023-x86_64
STAND_IN=gateway-local/lambda-provided:al2023-x86_64
mkdir -p "$WORK" "$LOGS"
DOCKER_DATA=$(mktemp -d /tmp/gateway-docker.XXXXXX)
export DOCKER_HOST=unix://$DOCKER_DATA/docker.sock SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true

started=$(date +%s)
say() { printf '  [sam-local %ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }

pids=()
made_bridge=0
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -f "$DOCKER_DATA/dockerd.pid" ]; then
    local pid
    pid=$(cat "$DOCKER_DATA/dockerd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  if [ "$made_bridge" = 1 ]; then ip link delete docker0 2>/dev/null || true; fi
  rm -rf "$DOCKER_DATA" 2>/dev/null || true
}
trap cleanup EXIT

# 1. Docker Engine.
if ! command -v dockerd >/dev/null || [ ! -x /bin/busybox ]; then
  say "installing docker.io and busybox-static from apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends docker.io busybox-static >/dev/null 2>&1 || {
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker.io busybox-static >/dev/null
  }
fi
ip link show docker0 >/dev/null 2>&1 || made_bridge=1
cat >"$DOCKER_DATA/daemon.json" <<EOF
{"storage-driver": "overlay2", "iptables": false, "ip6tables": false, "ip-forward": false,
 "ip-masq": false, "bip": "$BRIDGE_IP/24", "data-root": "$DOCKER_DATA/root",
 "exec-root": "$DOCKER_DATA/exec", "pidfile": "$DOCKER_DATA/dockerd.pid", "hosts": ["$DOCKER_HOST"]}
EOF
dockerd --config-file "$DOCKER_DATA/daemon.json" >"$LOGS/dockerd.log" 2>&1 &
for i in $(seq 1 120); do
  docker info >/dev/null 2>&1 && break
  [ "$i" = 120 ] && { echo "dockerd did not start:"; tail -20 "$LOGS/dockerd.log"; exit 1; }
  sleep 0.5
done
say "dockerd up on $DOCKER_HOST (bridge $BRIDGE_IP, no iptables, no forwarding, no NAT)"

# 2. The base image.
if docker image inspect "$REAL_IMAGE" >/dev/null 2>&1; then
  IMAGE=$REAL_IMAGE
else
  IMAGE=$STAND_IN
  R=$DOCKER_DATA/rootfs
  mkdir -p "$R"/{bin,tmp,var/task,var/runtime,var/rapid,opt,etc/ssl/certs,root,proc,sys,dev,lib64}
  chmod 1777 "$R/tmp"
  cp /bin/busybox "$R/bin/"
  for applet in $(/bin/busybox --list); do [ -e "$R/bin/$applet" ] || ln -s busybox "$R/bin/$applet"; done
  for f in $(dpkg -L libc6 libgcc-s1 | grep -E '^/(usr/)?lib(64|/x86_64-linux-gnu)/[^/]+\.so[.0-9]*$'); do
    mkdir -p "$R$(dirname "$f")"
    cp -a "$f" "$R$f"
    if [ -L "$f" ]; then t=$(readlink -f "$f"); mkdir -p "$R$(dirname "$t")"; cp -a "$t" "$R$t"; fi
  done
  cp /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/" 2>/dev/null || true
  cp /usr/share/zoneinfo/Etc/UTC "$R/etc/localtime"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' >"$R/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$R/etc/group"
  tar -C "$R" -cf "$DOCKER_DATA/rootfs.tar" .
  docker import \
    --change 'ENV LANG=C.UTF-8' --change 'ENV TZ=:/etc/localtime' \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin' \
    --change 'ENV LD_LIBRARY_PATH=/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' \
    --change 'ENV LAMBDA_TASK_ROOT=/var/task' --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
    --change 'WORKDIR /var/task' "$DOCKER_DATA/rootfs.tar" "$STAND_IN" >/dev/null
  rm -rf "$R" "$DOCKER_DATA/rootfs.tar"
fi
say "base image $IMAGE"

# 3. The functions and the test template.
if [ "$PROFILE" = release ]; then
  cargo build --workspace --release --bins --locked -q
else
  cargo build --workspace --bins --locked -q
fi
"$VENV/bin/python" - "$ROOT/template.yaml" "$WORK" "$ROOT/target/$PROFILE" <<'PY'
import os, re, shutil, sys
src, work, binaries = sys.argv[1:4]
out, binary = [], None
for line in open(src):
    if m := re.match(r"\s+Binary: (\S+)", line):
        binary = m.group(1)
    if line.strip() == "Architectures: [arm64]":
        line = line.replace("arm64", "x86_64")
    if line.strip() == "CodeUri: ." and binary:
        code = os.path.join(work, "functions", binary)
        os.makedirs(code, exist_ok=True)
        bootstrap = os.path.join(code, "bootstrap")
        if os.path.exists(bootstrap):
            os.remove(bootstrap)
        try:
            os.link(os.path.join(binaries, binary), bootstrap)
        except OSError:
            shutil.copy2(os.path.join(binaries, binary), bootstrap)
        line = line.replace("CodeUri: .", f"CodeUri: {code}")
        binary = None
    out.append(line)
    if line.strip() == "SECRETS_TTL_SECS: !Ref SecretsTtlSecs":
        pad = line[: len(line) - len(line.lstrip())]
        out += [f'{pad}{v}: ""\n' for v in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER",
                                           "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_S3", "AWS_LAMBDA_LOG_LEVEL")]
open(os.path.join(work, "template.yaml"), "w").writelines(out)
PY
say "test template $WORK/template.yaml (x86_64, $PROFILE binaries)"

# 4. moto_server on the bridge address.
port=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$VENV/bin/python" scripts/moto_dynamodb.py "$port" "$BRIDGE_IP" >"$LOGS/sam-local-moto.log" 2>&1 &
pids+=($!)
for i in $(seq 1 100); do
  "$VENV/bin/python" -c "import socket; socket.create_connection(('$BRIDGE_IP', $port), 0.2)" 2>/dev/null && break
  [ "$i" = 100 ] && { echo "moto_server did not start on $BRIDGE_IP:$port"; exit 1; }
  sleep 0.1
done
export GATEWAY_TEST_DYNAMODB_ENDPOINT=http://$BRIDGE_IP:$port
# SAM asks STS for the account id on every invoke: moto answers, nothing leaves the machine.
export AWS_ENDPOINT_URL_STS=$GATEWAY_TEST_DYNAMODB_ENDPOINT

case "$MODE" in
  prove)
    "$VENV/bin/python" scripts/prove_events.py --sam "$WORK/template.yaml" --invoke-image "$IMAGE" --host "$BRIDGE_IP"
    ;;
  shell)
    echo "DOCKER_HOST=$DOCKER_HOST; moto at $GATEWAY_TEST_DYNAMODB_ENDPOINT; template $WORK/template.yaml"
    echo "e.g. $VENV/bin/sam local invoke HistoryFunction -t $WORK/template.yaml -e events/history/list-events.json --skip-pull-image --invoke-image $IMAGE --env-vars <file>"
    PATH=$VENV/bin:$PATH SAM_LOCAL_IMAGE=$IMAGE SAM_LOCAL_TEMPLATE=$WORK/template.yaml "${SHELL:-bash}" -i || true
    ;;
  *)
    echo "usage: scripts/sam_local.sh [prove | shell]" >&2
    exit 2
    ;;
esac
say "done"
