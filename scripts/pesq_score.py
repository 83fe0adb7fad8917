#!/usr/bin/env python3
"""Scores a degraded speech file against its reference with ITU-T P.862 PESQ.

Usage: python3 scripts/pesq_score.py REF.wav DEG.wav nb|wb

Both files must be 16-bit PCM mono WAV at the same rate: 8000 Hz for
narrowband (nb, P.862.1 MOS-LQO) or 16000 Hz for wideband (wb, P.862.2).
Prints the MOS-LQO score alone on stdout. Exit status 2 for bad arguments or
files, 3 when PESQ cannot score them (for example no speech found).

Test-only: voip-media/tests/quality_pesq.rs runs it. Needs the PyPI packages
`pesq` and `numpy` (scripts/setup.sh installs them).
"""

import sys
import wave


def read_wav(path):
    import numpy as np

    with wave.open(path, "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path}: need 16-bit mono PCM")
        rate = w.getframerate()
        data = w.readframes(w.getnframes())
    return rate, np.frombuffer(data, dtype="<i2").astype(np.float64)


def main(argv):
    if len(argv) != 4 or argv[3] not in ("nb", "wb"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    ref_path, deg_path, mode = argv[1], argv[2], argv[3]
    try:
        from pesq import pesq
    except ImportError as e:
        print(f"pesq_score: python package missing: {e}", file=sys.stderr)
        return 2
    try:
        ref_rate, ref = read_wav(ref_path)
        deg_rate, deg = read_wav(deg_path)
    except (OSError, ValueError, wave.Error) as e:
        print(f"pesq_score: {e}", file=sys.stderr)
        return 2
    want = 8000 if mode == "nb" else 16000
    if ref_rate != want or deg_rate != want:
        print(
            f"pesq_score: {mode} needs {want} Hz, got {ref_rate} and {deg_rate}",
            file=sys.stderr,
        )
        return 2
    try:
        score = pesq(want, ref, deg, mode)
    except Exception as e:  # the pesq package raises its own error types
        print(f"pesq_score: pesq failed: {e}", file=sys.stderr)
        return 3
    print(f"{score:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
