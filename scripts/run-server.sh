#!/usr/bin/env bash
# Builds and runs the reference server: bash scripts/run-server.sh [FLAGS]
# (see --help, or README.md for the flags and the TOML file). setup.sh also
# builds the browser softphone (npm ci in web/softphone), served at
# http://localhost:3000/softphone/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --server
exec cargo run --release -p voip-server -- "$@"
