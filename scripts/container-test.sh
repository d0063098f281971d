#!/usr/bin/env bash
# Builds roost's container image from ./Dockerfile and tests it, without any image registry:
#
#   1. installs podman, runc, debootstrap and curl with apt-get if missing (needs root);
#   2. creates two local base images once and keeps them (rerunning reuses them):
#      localhost/debian:bookworm-slim  debootstrap --variant=minbase bookworm, imported;
#      localhost/roost-rust            that plus gcc/libc6-dev and a copy of the host's
#                                      default Rust toolchain (rustup's, needs rustc >= 1.85);
#   3. builds roost:test with those as RUST_IMAGE / RUNTIME_IMAGE (crates.io and Debian's
#      mirrors are reached with --network host);
#   4. runs it on the host network, loopback only, with the metrics port moved by an
#      environment variable, and checks: /metrics answers with roost_ metrics, the server
#      runs as the non-root user, the healthcheck (`roost ps`) passes, the environment
#      override shows in `roost config -n`, the image's default ROOST_LISTEN is "*", and
#      `podman stop` (SIGTERM) ends the server with exit status 0;
#   5. removes the container. Exits non-zero on the first failed step.
#
# Not part of .ci/run: it takes minutes (toolchain copy, release build on vfs storage).
# Environment: ROOST_TEST_PORT (metrics port; default a free one), KEEP_IMAGE=0 to delete
# roost:test and roost-builder:test (the build cache) afterwards, REBUILD_BASE=1 to
# recreate both base images, DEBIAN_MIRROR for debootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."

PODMAN=(podman --storage-driver=vfs --runtime runc --cgroup-manager=cgroupfs)
BASE_IMAGE=localhost/debian:bookworm-slim
RUST_IMAGE=localhost/roost-rust
IMAGE=localhost/roost:test
BUILDER_IMAGE=localhost/roost-builder:test
ROOST_UID=10143
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

pod() { "${PODMAN[@]}" "$@"; }
step() { printf '\n==> %s\n' "$*"; }
fail() {
    echo "container-test: FAIL: $*" >&2
    exit 1
}

if [ "$(id -u)" != 0 ]; then
    echo "scripts/container-test.sh: run as root (apt-get, debootstrap, rootful podman)" >&2
    exit 1
fi

# Everything made here is removed on exit, success or not.
work=$(mktemp -d /var/tmp/roost-container-test.XXXXXX)
cid=""
cleanup() {
    local rc=$?
    if [ -n "$cid" ]; then
        if [ "$rc" != 0 ]; then
            echo "--- container log ---" >&2
            pod logs "$cid" >&2 || true
        fi
        pod rm -f -t 0 "$cid" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
    if [ "$rc" = 0 ] && [ "${KEEP_IMAGE:-1}" = 0 ]; then
        pod rmi "$IMAGE" "$BUILDER_IMAGE" >/dev/null 2>&1 || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. tools --------------------------------------------------------------------------
missing=()
for p in podman runc debootstrap curl; do
    command -v "$p" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    step "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" ca-certificates >/dev/null
fi

# --- 2. local base images ---------------------------------------------------------------
if [ "${REBUILD_BASE:-0}" = 1 ]; then
    pod rmi -f "$RUST_IMAGE" "$BASE_IMAGE" >/dev/null 2>&1 || true
fi

if ! pod image exists "$BASE_IMAGE"; then
    step "creating $BASE_IMAGE with debootstrap (minbase, $MIRROR)"
    root="$work/rootfs"
    debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
        { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap"; }
    # Like the official slim image: updates and security suites, no docs or man pages.
    cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
    cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*
    tar -C "$root" --numeric-owner -c . |
        pod import --change 'CMD ["/bin/bash"]' - "${BASE_IMAGE#localhost/}" >/dev/null
    rm -rf "$root"
fi

# The toolchain rustup uses by default on this host, copied as-is (docs left out).
sysroot=$(rustc --print sysroot 2>/dev/null) || fail "no rustc on the host (rustup's toolchain is copied into $RUST_IMAGE)"
rustc_version=$(rustc --version)
minor=$(echo "$rustc_version" | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
[ "$minor" -ge 85 ] || fail "host $rustc_version is older than roost's rust-version 1.85"

# Extra CA certificates the host trusts (e.g. a TLS-intercepting egress proxy) go into the
# builder image too, so cargo can reach crates.io from it. Only the local builder gets them.
mkdir -p "$work/rust-image/extra-ca"
cp /usr/local/share/ca-certificates/*.crt "$work/rust-image/extra-ca/" 2>/dev/null || true
extra_ca=$(cat "$work/rust-image/extra-ca/"* 2>/dev/null | sha256sum | cut -c1-16)
want="$rustc_version; extra-ca $extra_ca"

have="" old_id=""
if pod image exists "$RUST_IMAGE"; then
    have=$(pod image inspect --format '{{index .Labels "org.roost.builder"}}' "$RUST_IMAGE")
    old_id=$(pod image inspect --format '{{.Id}}' "$RUST_IMAGE")
fi
if [ "$have" != "$want" ]; then
    step "creating $RUST_IMAGE: $BASE_IMAGE + gcc + host $rustc_version ($sysroot)"
    cat >"$work/rust-image/Containerfile" <<EOF
FROM $BASE_IMAGE
RUN apt-get update \\
    && apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates \\
    && rm -rf /var/lib/apt/lists/*
COPY extra-ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
RUN mkdir -p /usr/local/rust /usr/local/cargo \\
    && cp -a /opt/host-rust/bin /opt/host-rust/lib /opt/host-rust/libexec /usr/local/rust/
ENV CARGO_HOME=/usr/local/cargo \\
    PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN rustc --version && cargo --version
LABEL org.roost.builder="$want"
EOF
    pod build --network host --volume "$sysroot:/opt/host-rust:ro" \
        -t "$RUST_IMAGE" "$work/rust-image" || fail "building $RUST_IMAGE"
    # The outdated builder, if any, is untagged now: drop it (vfs keeps full copies).
    [ -z "$old_id" ] || pod rmi "$old_id" >/dev/null 2>&1 || true
fi

# --- 3. the image -------------------------------------------------------------------------
step "building $IMAGE"
image_id() { pod image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
old_ids=("$(image_id "$BUILDER_IMAGE")" "$(image_id "$IMAGE")")
build_args=(--format docker --network host
    --build-arg RUST_IMAGE="$RUST_IMAGE" --build-arg RUNTIME_IMAGE="$BASE_IMAGE")
start=$(date +%s)
# The builder stage is tagged too, so that the previous one can be removed below: on vfs
# storage every stage is a full copy (~2 GB). The second build reuses its cached layers.
# --format docker: the OCI image format has no HEALTHCHECK.
pod build "${build_args[@]}" --target builder -t "$BUILDER_IMAGE" . || fail "podman build (builder)"
pod build "${build_args[@]}" -t "$IMAGE" . || fail "podman build"
echo "build took $(($(date +%s) - start)) s"
for id in "${old_ids[@]}"; do
    if [ -n "$id" ] && [ "$id" != "$(image_id "$BUILDER_IMAGE")" ] && [ "$id" != "$(image_id "$IMAGE")" ]; then
        pod rmi "$id" >/dev/null 2>&1 || true
    fi
done
pod images "$IMAGE"

# --- 4. run and check ---------------------------------------------------------------------
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=${ROOST_TEST_PORT:-}
if [ -z "$port" ]; then
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 40000))
        port_in_use "$p" || { port=$p; break; }
    done
    [ -n "$port" ] || fail "no free port found"
fi

# Explicit ulimits: podman's defaults for root exceed this host's hard limits.
RUN_OPTS=(--network host --ulimit nofile=1024:1024 --ulimit nproc=4096:4096)

step "running $IMAGE (host network, 127.0.0.1:$port)"
# --health-interval disable: no systemd here to run the periodic timer; the image's
# HEALTHCHECK is still configured and is run below with `podman healthcheck run`. (Podman
# 4.3 still logs "unable to get systemd connection ... healthchecks" errors; harmless.)
cid=$(pod run -d "${RUN_OPTS[@]}" --health-interval disable \
    -e ROOST_SERVICE__STATS__INET_LISTENER__HTTP__PORT="$port" \
    -e ROOST_LISTEN=127.0.0.1 \
    "$IMAGE") || fail "podman run"
echo "container $cid"

metrics=""
for _ in $(seq 60); do
    [ "$(pod inspect --format '{{.State.Running}}' "$cid")" = true ] || fail "container exited"
    if metrics=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/metrics" 2>/dev/null); then
        break
    fi
    sleep 0.5
done
[ -n "$metrics" ] || fail "no answer from http://127.0.0.1:$port/metrics"
n=$(grep -c '^roost_' <<<"$metrics" || true)
[ "$n" -gt 0 ] || fail "/metrics has no roost_ samples"
echo "ok: /metrics on 127.0.0.1:$port answers with $n roost_ samples, e.g.:"
grep -m3 '^roost_' <<<"$metrics" | sed 's/^/    /'

uid=$(pod exec "$cid" id -u)
[ "$uid" = "$ROOST_UID" ] || fail "exec runs as uid $uid, expected $ROOST_UID"
read -r _ ruid euid _ < <(pod exec "$cid" grep '^Uid:' /proc/1/status)
comm=$(pod exec "$cid" cat /proc/1/comm)
[ "$comm" = roost ] || fail "pid 1 is '$comm', not roost"
[ "$ruid" = "$ROOST_UID" ] && [ "$euid" = "$ROOST_UID" ] ||
    fail "pid 1 runs as uid $ruid/$euid, expected $ROOST_UID"
echo "ok: pid 1 is roost, uid $ruid ($(pod exec "$cid" id -un)), not root"

pod healthcheck run "$cid" || fail "podman healthcheck run"
[ "$(pod inspect --format '{{.State.Health.Status}}' "$cid")" = healthy ] ||
    fail "health status is not healthy"
echo "ok: healthcheck (roost ps) passes; roost ps says:"
pod exec "$cid" roost ps | sed 's/^/    /'

config=$(pod exec "$cid" roost config -n)
grep -qx "port = $port" <<<"$config" || fail "roost config -n does not show port = $port"
grep -qx 'listen = \["127.0.0.1"\]' <<<"$config" || fail "roost config -n does not show the listen override"
echo "ok: roost config -n shows the environment overrides (port = $port, listen = 127.0.0.1)"
# ROOST_BASE_DIR=/run/roost equals the built-in default, so only the full config shows it.
full=$(pod exec "$cid" roost config)
grep -qx 'base_dir = "/run/roost"' <<<"$full" ||
    fail "roost config does not show base_dir = \"/run/roost\""
echo "ok: base_dir is /run/roost"

default_listen=$(pod run --rm "${RUN_OPTS[@]}" --no-healthcheck "$IMAGE" config -n | grep '^listen')
[ "$default_listen" = 'listen = ["*"]' ] || fail "image default is '$default_listen', expected listen = [\"*\"]"
echo "ok: without overrides the image listens on \"*\""

pod stop -t 10 "$cid" >/dev/null
code=$(pod inspect --format '{{.State.ExitCode}}' "$cid")
[ "$code" = 0 ] || fail "roost exited with status $code after podman stop"
echo "ok: podman stop (SIGTERM) -> exit status 0"

pod rm "$cid" >/dev/null
cid=""
echo
echo "container-test: PASS"
