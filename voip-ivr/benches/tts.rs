//! Piper TTS: our `PiperEngine` against the Python `piper` program
//! (PyPI `piper-tts`) on the same voice file and texts, and the
//! `TtsCache`'s hit and miss latency. Prints markdown tables.
//!
//! - Warm (in one process, model loaded, one synthesis per text done):
//!   `RUNS` timed syntheses per text on each side, the two sides taking
//!   turns (load from elsewhere on the machine hits both alike); real-time
//!   factor (RTF) = synthesis seconds / audio seconds (lower is faster;
//!   under 1 is faster than real time). Ours is `PiperEngine::synthesize` (espeak-ng
//!   subprocess for phonemes + ONNX Runtime inference + 16-bit
//!   conversion); theirs is `PiperVoice.synthesize` (espeak-ng linked in +
//!   the same inference + 16-bit conversion) run by
//!   `benches/piper_python.py`. Both sides use the same ONNX Runtime
//!   (the PyPI wheel's library) with `THREADS` intra-op threads.
//! - Cold one-shot: a fresh process per synthesis, wall time from spawn to
//!   exit (process start, runtime and model load, one synthesis): ours is
//!   this bench binary with `--oneshot NAME`, theirs `python3 -m piper`
//!   (ONNX Runtime's default thread count) with the text on stdin.
//! - Cache: `TtsCache::render` of the welcome text at 8 kHz, a miss (fresh
//!   cache dir: synthesis, resampling, two WAV files written) `RUNS` times,
//!   then `HITS` hits (the WAV read back from disk) with p50 / p99.
//!
//! `cargo bench -p voip-ivr --bench tts` or `bash scripts/bench-tts.sh`.
//! Environment: `TTS_BENCH_RUNS` (5), `TTS_BENCH_THREADS` (`1,2`: one set
//! of rows per count), `TTS_BENCH_HITS` (2000), `TTS_BENCH_COLD` (3),
//! `TTS_BENCH_THREADS_ONESHOT` (1: our cold process's thread count),
//! `VOIP_PYTHON` (`python3`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use voip_ivr::tts::{EspeakEngine, PiperEngine, PiperOptions, TtsCache, TtsEngine};

/// The seed's welcome prompt.
const WELCOME: &str =
    "Welcome to our service. Press 1 for sales, 2 for support, or 0 to hear these options again.";

/// A longer paragraph (89 words, about 24 s of speech).
const PARAGRAPH: &str = "Thank you for calling. All of our agents are currently helping other \
     customers, and your call is important to us. Please stay on the line and the next available \
     agent will answer in the order the call was received. You can also visit our website at any \
     time to check the status of an order, update your account details, or read answers to the \
     most common questions. If you would like us to call you back instead, press 9 now, and we \
     will keep your place in the queue.";

const TEXTS: [(&str, &str); 2] = [("welcome", WELCOME), ("paragraph", PARAGRAPH)];

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn python() -> String {
    std::env::var("VOIP_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

/// The value at quantile `q` (0 to 1) of sorted `values`.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn load(threads: usize) -> (PiperEngine, Duration) {
    let start = Instant::now();
    let engine = PiperEngine::locate(PiperOptions {
        threads,
        ..PiperOptions::default()
    });
    match engine {
        Ok(engine) => (engine, start.elapsed()),
        Err(e) => {
            eprintln!("tts bench: Piper is not available: {e}");
            std::process::exit(2);
        }
    }
}

/// `--oneshot NAME`: load, synthesize NAME's text once, exit.
fn oneshot(name: &str) {
    let text = TEXTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .expect("a text name");
    let (engine, _) = load(env_or("TTS_BENCH_THREADS_ONESHOT", 1));
    let audio = engine.synthesize(text, "", 1.0).unwrap();
    assert!(!audio.samples.is_empty());
}

/// One side's warm figures for one text.
struct Warm {
    first: f64,
    runs: Vec<f64>,
    audio: f64,
}

impl Warm {
    fn rtf(&self) -> f64 {
        median(&self.runs) / self.audio
    }
    fn best_rtf(&self) -> f64 {
        min(&self.runs) / self.audio
    }
}

/// One timed synthesis by our engine: (seconds, audio seconds).
fn ours_once(engine: &PiperEngine, text: &str) -> (f64, f64) {
    let start = Instant::now();
    let audio = engine.synthesize(text, "", 1.0).unwrap();
    let elapsed = secs(start.elapsed());
    assert!(!audio.samples.is_empty());
    (elapsed, secs(audio.duration()))
}

/// benches/piper_python.py with the voice loaded, synthesizing on request.
struct PythonPiper {
    child: Child,
    stdout: BufReader<ChildStdout>,
    load: f64,
}

impl PythonPiper {
    fn start(engine: &PiperEngine, threads: usize) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/piper_python.py");
        let paths = engine.paths();
        let mut child = Command::new(python())
            .arg(&script)
            .arg("--model")
            .arg(&paths.model)
            .arg("--config")
            .arg(&paths.config)
            .args(["--threads", &threads.to_string()])
            .args(TEXTS.iter().map(|(n, t)| format!("{n}={t}")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut python = PythonPiper {
            child,
            stdout,
            load: f64::NAN,
        };
        let load = python.message();
        python.load = load["seconds"].as_f64().unwrap();
        python
    }

    fn message(&mut self) -> serde_json::Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(
            !line.is_empty(),
            "benches/piper_python.py ended: is piper-tts installed? \
             `python3 -m pip install piper-tts`"
        );
        serde_json::from_str(&line).expect("JSON from the script")
    }

    /// One timed synthesis of text `name`: (seconds, audio seconds).
    fn once(&mut self, name: &str) -> (f64, f64) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{name}").unwrap();
        stdin.flush().unwrap();
        let reply = self.message();
        (
            reply["seconds"].as_f64().unwrap(),
            reply["audio_seconds"].as_f64().unwrap(),
        )
    }
}

impl Drop for PythonPiper {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Both sides on every text: a warm-up synthesis each, then `runs`
/// timed ones, ours and python's taking turns (so load from elsewhere on
/// the machine hits both alike).
fn warm(
    engine: &PiperEngine,
    python: &mut PythonPiper,
    name: &str,
    text: &str,
    runs: usize,
) -> (Warm, Warm) {
    let (our_first, our_audio) = ours_once(engine, text);
    let (their_first, their_audio) = python.once(name);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ours.push(ours_once(engine, text).0);
        theirs.push(python.once(name).0);
    }
    (
        Warm {
            first: our_first,
            runs: ours,
            audio: our_audio,
        },
        Warm {
            first: their_first,
            runs: theirs,
            audio: their_audio,
        },
    )
}

/// Wall time of `command` from spawn to a successful exit.
fn time_process(mut command: Command, stdin: Option<&str>) -> f64 {
    let start = Instant::now();
    let mut child = command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let elapsed = secs(start.elapsed());
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn cold(engine: &PiperEngine, name: &str, text: &str, runs: usize, dir: &Path) -> (f64, f64) {
    let paths = engine.paths();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    // taking turns, like the warm runs
    for _ in 0..runs {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.args(["--oneshot", name]);
        ours.push(time_process(command, None));
        let mut command = Command::new(python());
        command
            .args(["-m", "piper", "-m"])
            .arg(&paths.model)
            .arg("-c")
            .arg(&paths.config)
            .arg("-f")
            .arg(dir.join("python-oneshot.wav"));
        theirs.push(time_process(command, Some(&format!("{text}\n"))));
    }
    (median(&ours), median(&theirs))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--oneshot") {
        oneshot(args.get(i + 1).map(String::as_str).unwrap_or("welcome"));
        return;
    }
    let runs = env_or("TTS_BENCH_RUNS", 5).max(1);
    let hits = env_or("TTS_BENCH_HITS", 2000).max(1);
    let cold_runs = env_or("TTS_BENCH_COLD", 3);
    let threads: Vec<usize> = std::env::var("TTS_BENCH_THREADS")
        .unwrap_or_else(|_| "1,2".into())
        .split(',')
        .filter_map(|t| t.trim().parse().ok())
        .collect();
    let dir = std::env::temp_dir().join(format!("voip-ivr-tts-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    println!(
        "## Piper warm: synthesis in a loaded process ({runs} runs per text, median and best)\n"
    );
    println!(
        "| text | threads | audio s (ours / python) | ours RTF | python RTF | ours / python | ours best RTF | python best RTF | first synthesis s (ours / python) |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|---|");
    let mut loads = Vec::new();
    let mut engine_for_rest = None;
    for &t in &threads {
        let (engine, our_load) = load(t);
        let mut python = PythonPiper::start(&engine, t);
        loads.push((t, secs(our_load), python.load));
        for (name, text) in TEXTS {
            let (our, their) = warm(&engine, &mut python, name, text, runs);
            println!(
                "| {name} | {t} | {:.2} / {:.2} | {:.3} | {:.3} | {:.2} | {:.3} | {:.3} | {:.2} / {:.2} |",
                our.audio,
                their.audio,
                our.rtf(),
                their.rtf(),
                our.rtf() / their.rtf(),
                our.best_rtf(),
                their.best_rtf(),
                our.first,
                their.first,
            );
        }
        engine_for_rest.get_or_insert(engine);
    }
    let engine = Arc::new(engine_for_rest.unwrap_or_else(|| load(1).0));

    println!("\n## Model load in the process (runtime + voice), seconds\n");
    println!("| threads | ours | python (PiperVoice) |\n|---:|---:|---:|");
    for (t, ours, theirs) in &loads {
        println!("| {t} | {ours:.2} | {theirs:.2} |");
    }
    println!(
        "\n(ours: the first load also opens libonnxruntime.so and starts ONNX Runtime; python's clock starts after `import onnxruntime`)"
    );

    // the phoneme step alone: our espeak-ng subprocess
    let espeak = EspeakEngine::new("espeak-ng", "en-us");
    let phoneme_runs: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            espeak.phonemes(WELCOME, "").unwrap();
            secs(start.elapsed())
        })
        .collect();
    println!(
        "\nours, phonemes only (espeak-ng --ipa subprocess, welcome text): median {:.1} ms",
        median(&phoneme_runs) * 1e3
    );

    if cold_runs > 0 {
        println!(
            "\n## Cold one-shot: a new process per synthesis, spawn to exit ({cold_runs} runs, median seconds)\n"
        );
        println!(
            "| text | ours (bench binary --oneshot, 1 thread) | python -m piper (ORT default threads) | ours / python |"
        );
        println!("|---|---:|---:|---:|");
        for (name, text) in TEXTS {
            let (ours, theirs) = cold(&engine, name, text, cold_runs, &dir);
            println!(
                "| {name} | {ours:.2} | {theirs:.2} | {:.2} |",
                ours / theirs
            );
        }
    }

    println!(
        "\n## TtsCache (welcome text, 8 kHz, Piper {} thread(s))\n",
        threads.first().copied().unwrap_or(1)
    );
    let mut misses: Vec<Duration> = (0..runs)
        .map(|i| {
            let cache = TtsCache::open(dir.join(format!("miss-{i}")), engine.clone()).unwrap();
            let start = Instant::now();
            let rendered = cache.render(WELCOME, "", 1.0, Some(8000)).unwrap();
            let elapsed = start.elapsed();
            assert!(!rendered.cached);
            elapsed
        })
        .collect();
    misses.sort();
    let cache = TtsCache::open(dir.join("hits"), engine.clone()).unwrap();
    cache.render(WELCOME, "", 1.0, Some(8000)).unwrap();
    let mut hit_times: Vec<Duration> = (0..hits)
        .map(|_| {
            let start = Instant::now();
            let rendered = cache.render(WELCOME, "", 1.0, Some(8000)).unwrap();
            let elapsed = start.elapsed();
            assert!(rendered.cached);
            elapsed
        })
        .collect();
    hit_times.sort();
    let audio_bytes = cache
        .render(WELCOME, "", 1.0, Some(8000))
        .unwrap()
        .audio
        .samples
        .len()
        * 2;
    println!("| case | n | p50 | p99 | max |\n|---|---:|---:|---:|---:|");
    let ms = |d: Duration| format!("{:.3} ms", d.as_secs_f64() * 1e3);
    println!(
        "| miss (synthesize + resample + store) | {} | {} | {} | {} |",
        misses.len(),
        ms(quantile(&misses, 0.5)),
        ms(quantile(&misses, 0.99)),
        ms(*misses.last().unwrap())
    );
    println!(
        "| hit (read {} kB WAV) | {} | {} | {} | {} |",
        audio_bytes / 1024,
        hit_times.len(),
        ms(quantile(&hit_times, 0.5)),
        ms(quantile(&hit_times, 0.99)),
        ms(*hit_times.last().unwrap())
    );
    let _ = std::fs::remove_dir_all(&dir);
    println!("\nmachine: {} CPUs; RTF = synthesis s / audio s", cpus());
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
