#!/usr/bin/env bash
# Runs every check CI runs, in order, and prints `N passed, N failed`:
#   setup, fmt, clippy, unit/integration tests (debug), the purity check,
#   the release server build, the interop tests against the release binary
#   (torture corpus, sipp load), and a 60-second fuzz smoke run.
# Exits non-zero if any stage failed. Usage: bash scripts/test-all.sh
set -uo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-target}
passed=0
failed=0
failures=()

stage() {
  local name=$1
  shift
  local start=$SECONDS
  echo
  echo "==> $name"
  if "$@"; then
    passed=$((passed + 1))
    echo "<== $name: ok ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "<== $name: FAILED ($((SECONDS - start)) s)"
  fi
}

summary() {
  echo
  if [ "$failed" -gt 0 ]; then
    echo "failed stages: ${failures[*]}"
  fi
  echo "$passed passed, $failed failed"
}

# The SIP core must build without tokio (STYLE.md §2).
purity() {
  local tree
  tree=$(cargo tree -e normal -p voip-sip --no-default-features --prefix none) || return 1
  if grep -Eq '^tokio(-[a-z]+)? v' <<<"$tree"; then
    echo "purity check failed: voip-sip without default features depends on tokio:" >&2
    grep -E '^tokio(-[a-z]+)? v' <<<"$tree" | sort -u >&2
    echo "(make that dependency optional behind voip-sip's tokio feature)" >&2
    return 1
  fi
  echo "voip-sip --no-default-features: no tokio"
}

interop() {
  VOIP_SERVER_BIN="$target_dir/release/voip-server" cargo test -p voip-tests -- --ignored
}

fuzz_smoke() {
  if [ ! -f fuzz/Cargo.toml ]; then
    echo "fuzz/Cargo.toml does not exist: the sip_message fuzz target is missing" >&2
    return 1
  fi
  # cargo-fuzz passes nightly-only flags (-Zsanitizer); RUSTC_BOOTSTRAP lets
  # the stable toolchain accept them.
  # The message parser (the issue's 60-second smoke run), then every other
  # parser and state machine that sees the network for 20-30 s each.
  local target seconds
  for target in sip_message:60 stream_framer:30 transactions:30 dialog:30 \
    rtp_packet:20 sdp_offer:20 dtmf_payloads:20 relay:20; do
    seconds=${target#*:}
    target=${target%%:*}
    echo "fuzz: $target for ${seconds}s"
    (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- -max_total_time="$seconds") || return 1
  done
}

stage setup bash scripts/setup.sh
if [ "$failed" -gt 0 ]; then
  echo "set-up failed; nothing else can run"
  summary
  exit 1
fi
if [ -f "$HOME/.cargo/env" ] && ! command -v cargo >/dev/null 2>&1; then
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi

stage fmt cargo fmt --all -- --check
stage clippy cargo clippy --workspace --all-targets -- -D warnings
stage test cargo test --workspace
# The optional rsip conversions, and the sans-IO core without tokio.
stage rsip-feature cargo test -p voip-sip --features rsip --lib
stage clippy-core cargo clippy -p voip-sip --no-default-features --lib -- -D warnings
stage purity purity
stage release-build cargo build --release -p voip-server
if [ -x "$target_dir/release/voip-server" ]; then
  stage interop interop
else
  stage interop false
fi
stage fuzz fuzz_smoke

summary
[ "$failed" -eq 0 ]
