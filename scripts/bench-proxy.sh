#!/usr/bin/env bash
# Side by side on this machine: sipp UAC -> (Kamailio | voip-server) -> sipp
# UAS, each proxy doing the same job (stateful, double Record-Route, digest
# auth on INVITE with 407, location lookup of a registered callee), ramping
# the call rate until more than 0.1% of calls fail; then REGISTER with
# digest auth (401) per second, ramped the same way. Prints both maxima and
# the ratios. Everything runs on 127.0.0.1.
#
#   bash scripts/bench-proxy.sh            # BENCH_SECS=10 per step
#
# sipp shares the two cores with the proxy under test, as the notes say:
# read the maxima as "what this box sustains", the ratios as the result.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
secs=${BENCH_SECS:-10}
call_rates=${BENCH_CALL_RATES:-"100 200 400 600 800 1000 1300 1600 2000 2500 3000"}
reg_rates=${BENCH_REG_RATES:-"500 1000 2000 4000 6000 8000 11000 15000 20000"}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null || { echo "bench-proxy: $1 is missing (apt-get install $2)" >&2; exit 1; }; }
need sipp sip-tester
need kamailio kamailio
if [ -z "${VOIP_SERVER_BIN:-}" ]; then
  cargo build --release -p voip-server >/dev/null 2>&1 || cargo build --release -p voip-server
fi
server_bin=${VOIP_SERVER_BIN:-${CARGO_TARGET_DIR:-target}/release/voip-server}

port_base=$((20000 + RANDOM % 20000))
proxy_port=$port_base
uas_port=$((port_base + 1))
uac_port=$((port_base + 2))

# successes and failures from a sipp -trace_stat file (cumulative columns)
stat_counts() {
  python3 - "$1" <<'PY'
import sys
rows = [l.rstrip("\n").split(";") for l in open(sys.argv[1]) if l.strip()]
head, last = rows[0], rows[-1]
ok = int(last[head.index("SuccessfulCall(C)")])
bad = int(last[head.index("FailedCall(C)")])
print(ok, bad)
PY
}

sipp_run() { # name scenario args...
  local name=$1 scenario=$2
  shift 2
  (cd "$work" && sipp "127.0.0.1:$proxy_port" -sf "$root/tests/sipp/$scenario" -t u1 -i 127.0.0.1 \
    -nostdin -trace_stat -stf "$work/$name.csv" -fd 1 "$@" >"$work/$name.log" 2>&1) || true
}

start_uas() {
  sipp_run reg-1002 register.xml -key ext 1002 -key pass secret1002 -auth_uri localhost \
    -p "$uas_port" -m 1 -timeout 20s -timeout_error
  (cd "$work" && exec sipp "127.0.0.1:$proxy_port" -sf "$root/tests/sipp/uas.xml" -t u1 -i 127.0.0.1 \
    -nostdin -p "$uas_port" -timeout 3600s >"$work/uas.log" 2>&1) &
  uas_pid=$!
  pids+=("$uas_pid")
  sleep 1 # sipp has no readiness signal; the first step's calls retry anyway
}

ramp_calls() { # prints the highest rate with <= 0.1% failures
  local best=0
  for rate in $call_rates; do
    local n=$((rate * secs))
    sipp_run "calls-$rate" uac.xml -key ext 1001 -key pass secret1001 -key callee 1002 \
      -auth_uri 1002@localhost -p "$uac_port" -m "$n" -r "$rate" -l $((rate * 40)) \
      -recv_timeout 10s -timeout $((secs + 60))s -timeout_error
    read -r ok bad < <(stat_counts "$work/calls-$rate.csv" 2>/dev/null || echo "0 $n")
    local total=$((ok + bad))
    [ "$total" -lt "$n" ] && bad=$((n - ok))
    echo "  calls/s $rate: $ok ok, $bad failed" >&2
    if [ $((bad * 1000)) -gt "$n" ]; then break; fi
    best=$rate
  done
  echo "$best"
}

ramp_registers() {
  local best=0
  for rate in $reg_rates; do
    local n=$((rate * secs))
    sipp_run "reg-$rate" register.xml -key ext 1001 -key pass secret1001 -auth_uri localhost \
      -p "$uac_port" -m "$n" -r "$rate" -l $((rate * 10)) -recv_timeout 10s \
      -timeout $((secs + 60))s -timeout_error
    read -r ok bad < <(stat_counts "$work/reg-$rate.csv" 2>/dev/null || echo "0 $n")
    [ $((ok + bad)) -lt "$n" ] && bad=$((n - ok))
    echo "  REGISTER/s $rate: $ok ok, $bad failed" >&2
    if [ $((bad * 1000)) -gt "$n" ]; then break; fi
    best=$rate
  done
  echo "$best"
}

run_target() { # name -> sets calls_max, reg_max
  local name=$1
  echo "== $name" >&2
  start_uas
  calls_max=$(ramp_calls)
  kill "$uas_pid" 2>/dev/null || true
  reg_max=$(ramp_registers)
}

# --- voip-server
cat >"$work/voip-server.toml" <<TOML
sip_udp = "127.0.0.1:$proxy_port"
sip_tcp = "off"
sip_ws = "off"
http = "127.0.0.1:0"
tts_http = "off"
data_dir = "$work/data"
domain = "localhost"
auth_algorithms = ["MD5"]
auth_max_failures = 1000000
log = "warn"
[[users]]
extension = "1001"
password = "secret1001"
[[users]]
extension = "1002"
password = "secret1002"
TOML
"$server_bin" --config "$work/voip-server.toml" >"$work/voip-server.log" 2>&1 &
server_pid=$!
pids+=("$server_pid")
for _ in $(seq 100); do [ -f "$work/data/ports.json" ] && break; sleep 0.1; done
run_target voip-server
ours_calls=$calls_max ours_reg=$reg_max
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true

# --- Kamailio 5.6 (two UDP workers: one per core)
sed "s/@PORT@/$proxy_port/; s/@CHILDREN@/2/" bench/kamailio.cfg.in >"$work/kamailio.cfg"
kamailio -f "$work/kamailio.cfg" -DD -E -P "$work/kamailio.pid" -m 256 -M 32 >"$work/kamailio.log" 2>&1 &
kam_pid=$!
pids+=("$kam_pid")
sleep 1
run_target kamailio
kam_calls=$calls_max kam_reg=$reg_max
kill "$kam_pid"; wait "$kam_pid" 2>/dev/null || true

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}x' if b else 'n/a')" "$1" "$2"; }
echo
echo "| test | voip-server | Kamailio 5.6 | ratio |"
echo "|---|---:|---:|---:|"
echo "| calls/s through the proxy (<= 0.1% failed, ${secs} s steps) | $ours_calls | $kam_calls | $(ratio "$ours_calls" "$kam_calls") |"
echo "| REGISTER with digest auth /s (<= 0.1% failed) | $ours_reg | $kam_reg | $(ratio "$ours_reg" "$kam_reg") |"
