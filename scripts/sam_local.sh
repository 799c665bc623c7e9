#!/usr/bin/env bash
# `scripts/sam_local.sh [prove | browser | arm64 | shell]...`: the real AWS SAM CLI on this
# machine, in one command, with nothing pulled from a registry. Several modes run in turn
# on one Docker Engine (the test command runs `prove browser`).
#
#   prove (the default): every events/ payload through `sam local invoke` of the template's
#          functions, each response checked (scripts/prove_events.py --sam), the functions'
#          logs kept for the log scan.
#   browser: `sam local start-api` serving the template's routes, the demo merchant in front
#          of it, and the challenge and frictionless flows paid in headless Chromium
#          (scripts/sam_start_api.py, e2e/sam-local.test.mjs).
#   arm64: the bootstraps `sam build` made (scripts/sam_build.sh), each function invoked
#          at least once under qemu-user-static in an arm64 stand-in image (CI runs it).
#   shell: the same setup as prove, then a shell with DOCKER_HOST, the test template and the
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
MODES=("${@:-prove}")
for mode in "${MODES[@]}"; do
  case "$mode" in
    prove | browser | arm64 | shell) ;;
    *) echo "usage: scripts/sam_local.sh [prove | browser | arm64 | shell]..." >&2; exit 2 ;;
  esac
done
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
made_binfmt_mount=0
made_binfmt_entry=0
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -f "$DOCKER_DATA/dockerd.pid" ]; then
    local pid
    pid=$(cat "$DOCKER_DATA/dockerd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  if [ "$made_bridge" = 1 ]; then ip link delete docker0 2>/dev/null || true; fi
  if [ "$made_binfmt_entry" = 1 ]; then echo -1 >/proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null || true; fi
  if [ "$made_binfmt_mount" = 1 ]; then umount /proc/sys/fs/binfmt_misc 2>/dev/null || true; fi
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
# Docker's own log stays beside the work files, not among the logs the scan reads: its
# lines are full of random hex ids, some of whose digit runs pass a card number's check.
dockerd --config-file "$DOCKER_DATA/daemon.json" >"$WORK/dockerd.log" 2>&1 &
for i in $(seq 1 120); do
  docker info >/dev/null 2>&1 && break
  [ "$i" = 120 ] && { echo "dockerd did not start:"; tail -20 "$WORK/dockerd.log"; exit 1; }
  sleep 0.5
done
say "dockerd up on $DOCKER_HOST (bridge $BRIDGE_IP, no iptables, no forwarding, no NAT)"

# 2. The base image (x86_64): the real one when Docker has it, else the stand-in.
x86_image() {
  if docker image inspect "$REAL_IMAGE" >/dev/null 2>&1; then
    IMAGE=$REAL_IMAGE
    return
  fi
  IMAGE=$STAND_IN
  local R=$DOCKER_DATA/rootfs
  mkdir -p "$R"/{bin,tmp,var/task,var/runtime,var/rapid,opt,etc/ssl/certs,root,proc,sys,dev,lib64}
  chmod 1777 "$R/tmp"
  cp /bin/busybox "$R/bin/"
  for applet in $(/bin/busybox --list); do [ -e "$R/bin/$applet" ] || ln -s busybox "$R/bin/$applet"; done
  for f in $(dpkg -L libc6 libgcc-s1 | grep -E '^/(usr/)?lib(64|/x86_64-linux-gnu)/[^/]+\.so[.0-9]*$'); do
    mkdir -p "$R$(dirname "$f")"
    cp -a "$f" "$R$f"
    if [ -L "$f" ]; then t=$(readlink -f "$f"); mkdir -p "$R$(dirname "$t")"; cp -a "$t" "$R$t"; fi
  done
  finish_rootfs "$R"
  tar -C "$R" -cf "$DOCKER_DATA/rootfs.tar" .
  docker import \
    --change 'ENV LANG=C.UTF-8' --change 'ENV TZ=:/etc/localtime' \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin' \
    --change 'ENV LD_LIBRARY_PATH=/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' \
    --change 'ENV LAMBDA_TASK_ROOT=/var/task' --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
    --change 'WORKDIR /var/task' "$DOCKER_DATA/rootfs.tar" "$STAND_IN" >/dev/null
  rm -rf "$R" "$DOCKER_DATA/rootfs.tar"
}

# What every stand-in root holds besides its libraries: CA roots, UTC, users.
finish_rootfs() {
  local R=$1
  cp /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/" 2>/dev/null || true
  cp /usr/share/zoneinfo/Etc/UTC "$R/etc/localtime"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' >"$R/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$R/etc/group"
}

# The arm64 stand-in, for the bootstraps `sam build` makes: Debian's arm64 glibc, libgcc_s
# and static busybox (downloaded with apt, not installed), run under qemu-user-static.
# `docker import` would record amd64: it is built from scratch with the legacy builder.
ARM_IMAGE=gateway-local/lambda-provided-arm64:al2023-arm64
arm64_image() {
  local A=$DOCKER_DATA/apt-arm64 R=$DOCKER_DATA/rootfs-arm64
  mkdir -p "$A/state/lists/partial" "$A/cache/archives/partial" "$A/debs" "$R"
  touch "$A/status"
  local O=(-o "Dir::State=$A/state" -o "Dir::Cache=$A/cache" -o "Dir::State::status=$A/status"
           -o APT::Architecture=arm64 -o APT::Architectures=arm64 -o APT::Sandbox::User=root)
  apt-get "${O[@]}" update -qq >/dev/null
  (cd "$A/debs" && apt-get "${O[@]}" download -qq libc6 libgcc-s1 busybox-static >/dev/null)
  for deb in "$A"/debs/*.deb; do dpkg-deb -x "$deb" "$R"; done
  mkdir -p "$R"/{bin,tmp,var/task,var/runtime,var/rapid,opt,etc/ssl/certs,root,proc,sys,dev}
  chmod 1777 "$R/tmp"
  for applet in $(/bin/busybox --list); do [ -e "$R/bin/$applet" ] || ln -s busybox "$R/bin/$applet"; done
  finish_rootfs "$R"
  mkdir -p "$DOCKER_DATA/arm64"
  tar -C "$R" -cf "$DOCKER_DATA/arm64/rootfs.tar" .
  cat >"$DOCKER_DATA/arm64/Dockerfile" <<'DOCKERFILE'
FROM scratch
ADD rootfs.tar /
ENV LANG=C.UTF-8 TZ=:/etc/localtime PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin
ENV LD_LIBRARY_PATH=/lib/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib
ENV LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime
WORKDIR /var/task
DOCKERFILE
  DOCKER_BUILDKIT=0 docker build -q --platform linux/arm64 -t "$ARM_IMAGE" "$DOCKER_DATA/arm64" >/dev/null
  rm -rf "$R" "$A" "$DOCKER_DATA/arm64"
}

# qemu-user-static with its binfmt_misc entry (kernel-wide: registered only if absent,
# and unregistered on exit, as is the mount if this script made it).
arm64_emulation() {
  if [ ! -x /usr/bin/qemu-aarch64-static ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null 2>&1 || {
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null
    }
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    made_binfmt_mount=1
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    # F: the interpreter is opened now, so it works inside the containers too.
    local entry
    entry=$(grep -v '^#' /usr/lib/binfmt.d/qemu-aarch64.conf | head -1)
    case "$entry" in *F) ;; *:) entry="${entry}F" ;; *) entry="$entry" ;; esac
    printf '%s' "$entry" >/proc/sys/fs/binfmt_misc/register
    made_binfmt_entry=1
  fi
}

cargo_build() {
  if [ "$PROFILE" = release ]; then
    cargo build --workspace --release --bins --locked -q
  else
    cargo build --workspace --bins --locked -q
  fi
}

# 3. A test copy of the template: ARCH, each CodeUri at a directory holding the function's
#    bootstrap (the host's builds, or `sam build`'s with SOURCE=sam), the endpoint
#    variables declared.
test_template() {
  local arch=$1 source=$2
  "$VENV/bin/python" - "$ROOT/template.yaml" "$WORK/$arch" "$ROOT/target/$PROFILE" "$ROOT/.aws-sam/build" "$arch" "$source" <<'PY'
import os, re, shutil, sys
src, work, binaries, sam_build, arch, source = sys.argv[1:7]
out, binary, logical = [], None, None
for line in open(src):
    if m := re.match(r"^  ([A-Za-z0-9]+):\s*$", line):
        logical = m.group(1)
    if m := re.match(r"\s+Binary: (\S+)", line):
        binary = m.group(1)
    if line.strip() == "Architectures: [arm64]":
        line = line.replace("arm64", arch)
    if line.strip() == "CodeUri: ." and binary:
        if source == "sam":
            code = os.path.join(sam_build, logical)
            if not os.path.isfile(os.path.join(code, "bootstrap")):
                sys.exit(f"{logical}: no bootstrap in {code} (run scripts/sam_build.sh first)")
        else:
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
                                           "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_S3", "AWS_LAMBDA_LOG_LEVEL",
                                           "ALLOW_INSECURE_LOOPBACK_URLS")]
os.makedirs(work, exist_ok=True)
open(os.path.join(work, "template.yaml"), "w").writelines(out)
PY
  TEMPLATE=$WORK/$arch/template.yaml
  say "test template $TEMPLATE ($arch, $source builds)"
}

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

# The x86_64 image, the host's builds and their test template, made once for every mode.
x86_ready=0
x86() {
  [ "$x86_ready" = 1 ] && return
  x86_image
  say "base image $IMAGE"
  cargo_build
  test_template x86_64 host
  x86_ready=1
}

for MODE in "${MODES[@]}"; do
  case "$MODE" in
    prove)
      x86
      "$VENV/bin/python" scripts/prove_events.py --sam "$TEMPLATE" --invoke-image "$IMAGE" --host "$BRIDGE_IP"
      ;;
    browser)
      x86
      "$VENV/bin/python" scripts/sam_start_api.py --template "$TEMPLATE" --invoke-image "$IMAGE" --host "$BRIDGE_IP"
      ;;
    arm64)
      # The artefacts that would be deployed, each function invoked at least once under emulation.
      arm64_emulation
      arm64_image
      say "arm64 emulation (qemu-user-static, binfmt) and base image $ARM_IMAGE"
      test_template arm64 sam
      "$VENV/bin/python" scripts/prove_events.py --sam "$TEMPLATE" --invoke-image "$ARM_IMAGE" --host "$BRIDGE_IP" \
        --only enroll/invalid-card-id.json,check-enroll/status-unknown.json,callback/invalid-return-binding.json,notify/sweeper-schedule.json,history/redeliver-unknown-event.json,jobs/job-unknown.json,job-worker/chunk-of-an-unknown-job.json
      ;;
    shell)
      x86
      echo "DOCKER_HOST=$DOCKER_HOST; moto at $GATEWAY_TEST_DYNAMODB_ENDPOINT; template $TEMPLATE"
      echo "e.g. $VENV/bin/sam local invoke HistoryFunction -t $TEMPLATE -e events/history/list-events.json --skip-pull-image --invoke-image $IMAGE --env-vars <file>"
      PATH=$VENV/bin:$PATH SAM_LOCAL_IMAGE=$IMAGE SAM_LOCAL_TEMPLATE=$TEMPLATE "${SHELL:-bash}" -i || true
      ;;
  esac
done
say "done"
