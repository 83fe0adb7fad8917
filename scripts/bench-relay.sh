#!/usr/bin/env bash
# Relayed RTP packets per second per core, side by side on this machine:
# voip-media's RelayDriver (batched: recvmmsg/GRO + GSO through quinn-udp,
# in its own process on a one-thread tokio runtime, controlled over the ng
# protocol by a tiny server in the bench binary) against rtpengine
# (Debian rtpengine-daemon, userspace forwarding: --table=-1, no kernel
# module, one worker thread). The same generator drives both: it sets the
# calls up over ng (offer/answer/delete), sends PCMU-sized RTP (172-byte
# datagrams, one per packet, paced) on both legs of every call and counts
# what comes out. Each relay is pinned to CPU 0, the generator to CPU 1.
#
#   bash scripts/bench-relay.sh
#   BENCH_CALLS=500 BENCH_RATES="25 50 100 150" BENCH_SECS=10 BENCH_RUNS=1
#   (BENCH_RATES: packets per second per leg; offered = 2 * calls * rate)
#
# "pps per core" = relayed packets / relay CPU-seconds (utime + stime of
# the relay process from /proc/<pid>/stat): what one core relays at that
# load, whatever else shares CPU 0. It is only meaningful when the relay
# keeps up (loss near 0); "offered" below the target means the generator
# (one core, one sendmsg per packet) was the limit.
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${BENCH_CALLS:-500}
rates=${BENCH_RATES:-"25 50 100 150"}
secs=${BENCH_SECS:-10}
runs=${BENCH_RUNS:-1}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if ! command -v rtpengine >/dev/null; then
  echo "bench-relay: installing rtpengine-daemon (bench only)" >&2
  sudo_=""
  [ "$(id -u)" -eq 0 ] || sudo_=sudo
  $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends rtpengine-daemon >&2
fi
command -v taskset >/dev/null || { echo "bench-relay: taskset is missing (util-linux)" >&2; exit 1; }
ncpu=$(nproc)
relay_cpu=0
gen_cpu=$((ncpu > 1 ? 1 : 0))

cargo bench -p voip-media --bench relay_vs_rtpengine --no-run >/dev/null 2>&1 ||
  cargo bench -p voip-media --bench relay_vs_rtpengine --no-run
bin=$(cargo bench -p voip-media --bench relay_vs_rtpengine --no-run 2>&1 |
  sed -n 's/.*Executable.*(\(.*\))/\1/p' | head -1)

base=$((20000 + RANDOM % 20000))
ng_ours=$base
ng_theirs=$((base + 1))

wait_ng() { # port: until the ng server answers a ping
  for _ in $(seq 100); do
    if python3 - "$1" <<'PY' 2>/dev/null; then return 0; fi
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.1)
s.sendto(b"p d7:command4:pinge", ("127.0.0.1", int(sys.argv[1])))
sys.exit(0 if b"pong" in s.recv(1000) else 1)
PY
    sleep 0.1
  done
  echo "bench-relay: no ng server on port $1" >&2
  return 1
}

start_ours() {
  taskset -c "$relay_cpu" "$bin" serve --ng "127.0.0.1:$ng_ours" \
    --ports "$((base + 100))-$((base + 100 + 4 * calls + 99))" >"$work/ours.log" 2>&1 &
  ours=$!
  pids+=("$ours")
  wait_ng "$ng_ours"
}

start_theirs() {
  # --config-file=none: not /etc/rtpengine/rtpengine.conf (table = 0).
  taskset -c "$relay_cpu" rtpengine --config-file=none --table=-1 --interface=127.0.0.1 \
    --listen-ng="127.0.0.1:$ng_theirs" --port-min=$((base + 100 + 4 * calls + 200)) \
    --port-max=$((base + 100 + 8 * calls + 400)) --num-threads=1 --foreground --log-stderr \
    --log-level=5 --timeout=3600 --delete-delay=0 >"$work/rtpengine.log" 2>&1 &
  theirs=$!
  pids+=("$theirs")
  wait_ng "$ng_theirs" || { cat "$work/rtpengine.log" >&2; exit 1; }
}

gen() { # label ng-port pid rate
  taskset -c "$gen_cpu" "$bin" gen --ng "127.0.0.1:$2" --pid "$3" --label "$1" \
    --calls "$calls" --rate "$4" --secs "$secs" | tee -a "$work/results" >&2
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# A fresh relay process per measurement (rtpengine reusing the ports of
# deleted calls in a later step lost packets; ours is restarted the same way).
for r in $(seq "$runs"); do
  for rate in $rates; do
    echo "bench-relay: run $r/$runs, $calls calls, $rate packets/s per leg ($((2 * calls * rate)) offered), ${secs} s" >&2
    start_ours
    gen voip-media "$ng_ours" "$ours" "$rate"
    stop "$ours"
    start_theirs
    gen rtpengine "$ng_theirs" "$theirs" "$rate"
    stop "$theirs"
    cat "$work/rtpengine.log" >>"$work/rtpengine-all.log"
  done
done
if grep -qiE 'ERR|CRIT|WARN' "$work/rtpengine-all.log"; then
  echo "bench-relay: rtpengine warnings:" >&2
  grep -E 'ERR|CRIT|WARN' "$work/rtpengine-all.log" | sed -E 's/^\[[0-9.]*\] //; s/\[bench-[^]]*\]: //' | sort | uniq -c | sort -rn | head -5 >&2 || true
fi

# every run, in order; the ratio compares the two relays of the same run
awk -v calls="$calls" '
  /^RESULT/ {
    delete f
    for (i = 3; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    k = f["rate"] SUBSEP $2
    run = ++count[k]
    row[++n] = sprintf("| %d | %d | %s | %d | %d | %.2f | %.2f | %d |", 2 * calls * f["rate"], run, $2,
      f["offered_pps"], f["relayed_pps"], f["loss"] * 100, f["relay_cpu"], f["pps_per_core"])
    ppc[f["rate"], run, $2] = f["pps_per_core"] + 0; lossy[f["rate"], run, $2] = (f["loss"] + 0 >= 0.001)
    rate_of[n] = f["rate"]; run_of[n] = run; who[n] = $2
  }
  END {
    printf "| offered pps (target) | run | relay | offered | relayed pps | loss %% | relay CPU | pps per core | ratio |\n"
    printf "|---:|---:|---|---:|---:|---:|---:|---:|---:|\n"
    for (i = 1; i <= n; i++) {
      r = rate_of[i]; u = run_of[i]; ratio = ""
      if (who[i] == "rtpengine" && ppc[r, u, "rtpengine"] > 0 && ppc[r, u, "voip-media"] > 0) {
        ratio = sprintf("%.2f", ppc[r, u, "voip-media"] / ppc[r, u, "rtpengine"])
        if (lossy[r, u, "rtpengine"] || lossy[r, u, "voip-media"]) ratio = ratio " (loss)"
      }
      print row[i] " " ratio " |"
    }
    print "\nratio = voip-media / rtpengine pps per core in the same run (target at least 1.0);"
    print "\"(loss)\": a relay lost >= 0.1% in that run, so its pps per core is not a capacity figure"
  }' "$work/results"
