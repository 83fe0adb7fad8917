#!/usr/bin/env bash
# SRTP protect/unprotect per packet: voip-media (webrtc-srtp + our replay
# window) against libsrtp2 (Debian libsrtp2-dev, through the bench-only C
# harness in bench/srtp/), same suites, keys, packets and counts, on this
# machine, one after the other. Prints both and the ratio voip-media/libsrtp2
# (lower is better; the issue's target is at most 1.0).
#
#   bash scripts/bench-srtp.sh            [SRTP_BENCH_PACKETS=60000]
#   BENCH_RUNS=3 bash scripts/bench-srtp.sh   best of 3 runs per side
set -euo pipefail
cd "$(dirname "$0")/.."

if ! [ -f /usr/include/srtp2/srtp.h ]; then
  echo "bench-srtp: installing libsrtp2-dev (bench only)"
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libsrtp2-dev
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libsrtp2-dev
  fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -o "$work/libsrtp_bench" bench/srtp/libsrtp_bench.c -lsrtp2

runs=${BENCH_RUNS:-3}
cargo bench -p voip-media --bench srtp --no-run >/dev/null 2>&1 || cargo bench -p voip-media --bench srtp --no-run
for _ in $(seq "$runs"); do
  cargo bench -p voip-media --bench srtp 2>/dev/null | grep '^srtp ' >>"$work/ours"
  "$work/libsrtp_bench" >>"$work/theirs"
done

# best (lowest) ns per case and side (POSIX awk: no asorti)
printf '| suite | payload | operation | voip-media ns | libsrtp2 ns | ratio |\n|---|---:|---|---:|---:|---:|\n'
cat "$work/ours" "$work/theirs" | awk '
  { key = $3 " | " $4 " | " $5; v = $6 + 0
    if (!((key, $2) in best) || v < best[key, $2]) best[key, $2] = v
    keys[key] = 1 }
  END {
    for (k in keys) {
      ours = best[k, "voip-media"]; theirs = best[k, "libsrtp2"]
      printf "| %s | %d | %d | %.2f |\n", k, ours, theirs, (theirs > 0 ? ours / theirs : 0)
    }
  }' | sort
