//! What a caller waiting in a queue hears: a WAV file (`[ivr] hold_music`),
//! or, by default, a quiet arpeggio synthesised here (C–Am–F–G, 8 s loop),
//! so the server needs no media files to ship. Also reads WAV prompt files
//! at the call's 8 kHz.

use std::f32::consts::TAU;
use std::path::Path;
use std::sync::Arc;

use voip_ivr::tts::{Resampler, SincResampler, wav};

/// The call's sample rate (the IVR speaks PCMU).
pub const RATE: u32 = 8000;

/// Reads a WAV file (PCM 8/16-bit or float, any channels and rate) as
/// 8 kHz mono samples.
pub fn read_wav_8k(path: &Path) -> Result<Arc<[i16]>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let audio = wav::decode(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    if audio.samples.is_empty() {
        return Err(format!("{} holds no audio", path.display()));
    }
    let samples = if audio.sample_rate == RATE {
        audio.samples
    } else {
        SincResampler::default().resample(&audio.samples, audio.sample_rate, RATE)
    };
    Ok(Arc::from(samples))
}

/// The hold music: the file at `path`, else the built-in loop. A file that
/// cannot be read is a start-up error naming it.
pub fn load(path: Option<&Path>) -> Result<Arc<[i16]>, String> {
    match path {
        Some(path) => read_wav_8k(path).map_err(|e| {
            format!(
                "[ivr] hold_music: {e} (give a WAV file, or remove the key for the built-in music)"
            )
        }),
        None => Ok(synthesize()),
    }
}

/// The built-in loop: four bars of arpeggiated triads with a soft
/// attack and decay per note, peaking around -16 dBFS.
pub fn synthesize() -> Arc<[i16]> {
    // MIDI notes of C major, A minor, F major, G major (one octave up
    // for the top note), two arpeggios per bar
    const CHORDS: [[u8; 4]; 4] = [
        [60, 64, 67, 72],
        [57, 60, 64, 69],
        [53, 57, 60, 65],
        [55, 59, 62, 67],
    ];
    const NOTE_SECONDS: f32 = 0.25;
    let note_len = (RATE as f32 * NOTE_SECONDS) as usize;
    let mut out = Vec::with_capacity(CHORDS.len() * 8 * note_len);
    for chord in CHORDS {
        for note in chord.iter().chain(chord.iter()) {
            let hz = 440.0 * 2f32.powf((f32::from(*note) - 69.0) / 12.0);
            for n in 0..note_len {
                let t = n as f32 / RATE as f32;
                // 10 ms attack, exponential decay
                let envelope = (t / 0.01).min(1.0) * (-t * 6.0).exp();
                let phase = TAU * hz * t;
                let tone = phase.sin() + 0.3 * (2.0 * phase).sin() + 0.1 * (3.0 * phase).sin();
                out.push((tone * envelope * 3500.0) as i16);
            }
        }
    }
    Arc::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_loop_is_audible_and_not_clipped() {
        let music = synthesize();
        assert_eq!(music.len(), 4 * 8 * 2000);
        let peak = music.iter().map(|s| i32::from(*s).abs()).max().unwrap();
        assert!((3000..=6000).contains(&peak), "peak {peak}");
        let rms =
            (music.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / music.len() as f64).sqrt();
        assert!(rms > 500.0, "rms {rms}");
    }

    #[test]
    fn files_are_read_at_8k_and_bad_files_are_named() {
        let dir = std::env::temp_dir().join(format!("voip-moh-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tone.wav");
        let audio = voip_ivr::tts::Synthesized {
            sample_rate: 16000,
            samples: (0..16000)
                .map(|i| ((i as f32 * 0.1).sin() * 8000.0) as i16)
                .collect(),
        };
        std::fs::write(&path, wav::encode(&audio)).unwrap();
        let read = load(Some(&path)).unwrap();
        assert!((7990..=8010).contains(&read.len()), "{}", read.len());
        let missing = dir.join("missing.wav");
        let error = load(Some(&missing)).unwrap_err();
        assert!(
            error.contains("missing.wav") && error.contains("hold_music"),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
