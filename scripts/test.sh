#!/usr/bin/env bash
# The whole test suite: installs what it needs, then lint, unit, packet
# (BPF_PROG_TEST_RUN) and end-to-end (network namespaces) tests. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/test.sh: the suite loads eBPF programs and builds network namespaces; run it as root (sudo)" >&2
  exit 1
fi
./scripts/setup.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo nextest run --workspace --locked --no-fail-fast

# Tests must leave nothing behind.
left=$(ip netns list | grep -c "^sg" || true)
if [ "$left" -ne 0 ]; then
  echo "scripts/test.sh: tests left $left network namespace(s) behind:" >&2
  ip netns list >&2
  exit 1
fi
pins=$(ls /sys/fs/bpf | grep -c '^sixgate-' || true)
if [ "$pins" -ne 0 ]; then
  echo "scripts/test.sh: tests left $pins bpffs pin path(s) behind:" >&2
  ls -d /sys/fs/bpf/sixgate-* >&2
  exit 1
fi
echo "scripts/test.sh: all tests passed"
