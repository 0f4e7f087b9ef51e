#!/usr/bin/env bash
# Builds sixgate and runs `sixgate demo`: an IPv4-only client fetching a page
# from an IPv6-only server through the eBPF translator, then a NAT46 service
# spreading its connections over three IPv6-only backends, in network
# namespaces that are removed again at the end. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
./scripts/setup.sh
cargo build --release --locked -p sixgate
exec ./target/release/sixgate demo
