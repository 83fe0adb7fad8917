#!/usr/bin/env bash
# Builds and runs the reference server: bash scripts/run-server.sh [FLAGS]
# (see --help, or README.md for the flags and the TOML file).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --server
exec cargo run --release -p voip-server -- "$@"
