#!/usr/bin/env bash
# Installs what sixgate needs to build, run the demo and run the test suite on a
# Debian/Ubuntu machine. Idempotent: packages already present are skipped, and
# bpffs is mounted only when it is not mounted yet.
set -euo pipefail

PKGS=(
  clang-19 llvm-19        # compiles bpf/*.c (build.rs calls clang-19 -target bpf)
  libbpf-dev              # bpf_helpers.h and friends
  linux-libc-dev          # linux/bpf.h, linux/if_ether.h, ...
  bpftool                 # inspecting loaded programs and maps by hand
  iproute2                # ip netns / ip link / tc
  iperf3 curl ethtool     # e2e and benchmark traffic
  iputils-ping            # ping / ping -6 in the e2e tests
  python3                 # the HTTP server used by the demo and e2e tests
  socat                   # UDP echo and bulk transfers in the e2e tests
  procps util-linux       # sysctl (packet tests), nsenter (the daemon in a netns)
  pkg-config
)

# shellcheck source=scripts/env.sh
. "$(dirname "$0")/env.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: run as root (it installs packages and mounts bpffs)" >&2
  exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! mountpoint -q /sys/fs/bpf; then
  mount -t bpf bpf /sys/fs/bpf
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup.sh: cargo not found. sixgate needs Rust 1.87 or newer (Debian's cargo is too old):" >&2
  echo "  curl --proto '=https' -sSf https://sh.rustup.rs | sh" >&2
  exit 1
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup.sh: installing cargo-nextest"
  cargo install --locked cargo-nextest
fi
echo "setup.sh: ready"
