#!/usr/bin/env bash
# Concurrent IVR calls and the jitter of the RTP the server sends (issue 6):
# builds the release server, then sipp places CALLS calls to 9999 at RATE
# per second, HOLD seconds each, and the bench prints the send-schedule
# deviation percentiles of every call's RTP. Target: 500 calls, p99 < 5 ms.
#
#   bash scripts/bench-ivr.sh                 # CALLS=500 RATE=50 HOLD=30
#   CALLS=200 HOLD=20 bash scripts/bench-ivr.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
target_dir=${CARGO_TARGET_DIR:-target}
cargo build --release -p voip-server
# sipp's per-call RTP threads and sockets
ulimit -n 65536 2>/dev/null || true
VOIP_SERVER_BIN="$target_dir/release/voip-server" cargo bench -p voip-tests --bench ivr_load
