#!/usr/bin/env bash
# SRTP protect/unprotect per packet: voip-media (AES-GCM: our RFC 7714
# transform on aes-gcm; AES-CM: webrtc-srtp; our replay window) against
# libsrtp2 (Debian libsrtp2-dev, through the bench-only C harness in
# bench/srtp/), same suites, keys, packets and counts, on this
# machine, one after the other. Prints both and the ratio voip-media/libsrtp2
# (lower is better; the issue's target is at most 1.0).
#
#   bash scripts/bench-srtp.sh            [SRTP_BENCH_PACKETS=60000]
#   BENCH_RUNS=3 bash scripts/bench-srtp.sh   best of 3 runs per side
#   SRTP_CALLGRIND=1 bash scripts/bench-srtp.sh   also instructions per packet
#       (valgrind --tool=callgrind, one case per run, 2,000 packets)
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

cc -O2 -g -o "$work/libsrtp_bench" bench/srtp/libsrtp_bench.c -lsrtp2
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

[ -n "${SRTP_CALLGRIND:-}" ] || exit 0
command -v valgrind >/dev/null || { echo "bench-srtp: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
ours_bin=$(cargo bench -p voip-media --bench srtp --no-run 2>&1 | sed -n 's/.*Executable.*(\(.*\))/\1/p' | head -1)
n=2000
# inclusive instructions of the first function matching $2 in callgrind output $1
# (awk reads to the end: an early exit would fail the pipe under pipefail)
incl() {
  callgrind_annotate --inclusive=yes "$1" 2>/dev/null |
    awk -v pat="$2" 'index($0, pat) && !done { gsub(",", "", $1); print $1; done = 1 }'
}
printf '\n| suite | payload | operation | voip-media instructions | libsrtp2 instructions | ratio |\n|---|---:|---|---:|---:|---:|\n'
for suite in AEAD_AES_128_GCM AES_CM_128_HMAC_SHA1_80; do
  for payload in 1200 160; do
    for side in ours theirs; do
      bin=$ours_bin
      [ "$side" = theirs ] && bin=$work/libsrtp_bench
      SRTP_BENCH_PACKETS=$n SRTP_BENCH_SUITE=$suite SRTP_BENCH_PAYLOAD=$payload \
        valgrind --tool=callgrind --callgrind-out-file="$work/cg.$side" "$bin" >/dev/null 2>&1
    done
    op=$(incl "$work/cg.ours" 'srtp::protect_one ')
    ou=$(incl "$work/cg.ours" 'srtp::unprotect_one ')
    tp=$(incl "$work/cg.theirs" ':srtp_protect ')
    tu=$(incl "$work/cg.theirs" ':srtp_unprotect ')
    awk -v s="$suite" -v p="$payload" -v op="$op" -v ou="$ou" -v tp="$tp" -v tu="$tu" -v n="$n" 'BEGIN {
      printf "| %s | %d | protect | %d | %d | %.2f |\n", s, p, op / n, tp / n, op / tp
      printf "| %s | %d | unprotect | %d | %d | %.2f |\n", s, p, ou / n, tu / n, ou / tu }'
  done
done
