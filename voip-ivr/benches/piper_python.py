"""The Python `piper` program's side of `cargo bench -p voip-ivr --bench tts`.

Loads the voice once with PyPI `piper-tts` (PiperVoice), with an ONNX
Runtime session of `--threads` intra-op threads (0 = ONNX Runtime's default,
what the `piper` command uses), then synthesizes the text of each NAME read
from stdin (one per line; an empty line or EOF ends), timing only
`voice.synthesize` (phonemes + inference + int16 conversion). Prints one
JSON object per line:

  {"kind": "load", "seconds": ..., "threads": ...}
  {"kind": "synth", "name": ..., "seconds": ..., "audio_seconds": ...}

Texts come as NAME=TEXT arguments after the options.
"""

import argparse
import json
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("texts", nargs="+", help="NAME=TEXT")
    args = parser.parse_args()

    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    start = time.perf_counter()
    if args.threads > 0:
        # PiperVoice.load's session, with the thread count of our side
        with open(args.config, encoding="utf-8") as file:
            config = PiperConfig.from_dict(json.load(file))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            args.model, sess_options=options, providers=["CPUExecutionProvider"]
        )
        voice = PiperVoice(config=config, session=session)
    else:
        voice = PiperVoice.load(args.model, config_path=args.config)
    load = time.perf_counter() - start
    print(json.dumps({"kind": "load", "seconds": load, "threads": args.threads}))
    sys.stdout.flush()

    rate = voice.config.sample_rate
    texts = dict(item.split("=", 1) for item in args.texts)

    def synthesize(text: str) -> tuple[float, float]:
        start = time.perf_counter()
        samples = 0
        for chunk in voice.synthesize(text):
            samples += len(chunk.audio_int16_array)
        return time.perf_counter() - start, samples / rate

    # one synthesis per name read from stdin, so the caller can interleave
    # these runs with its own
    for line in sys.stdin:
        name = line.strip()
        if not name:
            break
        seconds, audio = synthesize(texts[name])
        print(
            json.dumps(
                {"kind": "synth", "name": name, "seconds": seconds, "audio_seconds": audio}
            )
        )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
