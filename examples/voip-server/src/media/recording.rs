//! The `[recording]` settings and the naming of recordings: relayed and
//! bridged browser calls are recorded to a WAV file per call (left the
//! caller, right the callee, or mono), named after the Call-ID, served at
//! `GET /recordings/{file}` and linked from the call record
//! (`call_logs.recording_url`).
//!
//! ```toml
//! [recording]
//! enabled = false        # default: off
//! dir = "./data/recordings"  # default: DATA_DIR/recordings (created when enabled)
//! format = "stereo"      # stereo (L caller, R callee) or mono (both mixed)
//! rate = 16000           # 8000 or 16000 samples/s
//! ```
//!
//! Every mistake is one [`Error::Config`] line naming the key and the fix.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use voip_media::relay::{RecordingLayout, RecordingOptions};

use crate::error::Error;

/// Where `GET` serves recordings.
pub const URL_PREFIX: &str = "/recordings/";

/// The `[recording]` table.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingEntry {
    /// Record relayed and browser calls [default: false].
    pub enabled: Option<bool>,
    /// Where the files go [default: DATA_DIR/recordings].
    pub dir: Option<PathBuf>,
    /// `stereo` or `mono` [default: stereo].
    pub format: Option<String>,
    /// Samples per second, 8000 or 16000 [default: 16000].
    pub rate: Option<u32>,
}

/// The resolved `[recording]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSettings {
    /// Whether relayed and browser calls are recorded.
    pub enabled: bool,
    /// The directory of the files.
    pub dir: PathBuf,
    /// Channels and rate.
    pub options: RecordingOptions,
}

impl RecordingSettings {
    /// The file of a call's recording.
    pub fn path_for(&self, call_id: &str) -> PathBuf {
        self.dir.join(file_name_for(call_id))
    }
}

/// Reads the `[recording]` table of config file `path`.
pub fn resolve(
    path: &Path,
    entry: Option<&RecordingEntry>,
    data_dir: &Path,
) -> Result<RecordingSettings, Error> {
    let default = RecordingEntry::default();
    let entry = entry.unwrap_or(&default);
    let file = path.display();
    let fail =
        |key: &str, what: String| Error::Config(format!("[recording] {key} in {file}: {what}"));
    let layout = match entry
        .format
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("stereo") => RecordingLayout::Stereo,
        Some("mono") => RecordingLayout::Mono,
        Some(_) => {
            return Err(fail(
                "format",
                format!(
                    "{:?} is not a format (write \"stereo\" or \"mono\")",
                    entry.format.as_deref().unwrap_or_default()
                ),
            ));
        }
    };
    let rate = entry.rate.unwrap_or(16000);
    if rate != 8000 && rate != 16000 {
        return Err(fail(
            "rate",
            format!("{rate} is not a recording rate (write 8000 or 16000)"),
        ));
    }
    let dir = entry
        .dir
        .clone()
        .unwrap_or_else(|| data_dir.join("recordings"));
    if dir.as_os_str().is_empty() {
        return Err(fail(
            "dir",
            "is empty (give a directory, e.g. \"./data/recordings\")".into(),
        ));
    }
    Ok(RecordingSettings {
        enabled: entry.enabled.unwrap_or(false),
        dir,
        options: RecordingOptions::default().rate(rate).layout(layout),
    })
}

/// The file name of a call's recording: letters, digits, `-` and `.` of
/// the Call-ID are kept, every other byte is written `_XX` (hex), so two
/// Call-IDs never share a file, and no name leaves the directory or hides
/// (a leading `.` is escaped too). Long Call-IDs are cut at 180 bytes and
/// end with a hash of the whole.
pub fn file_name_for(call_id: &str) -> String {
    let mut name = String::with_capacity(call_id.len() + 4);
    for (i, b) in call_id.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || b == b'-' || (b == b'.' && i > 0);
        if keep {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("_{b:02X}"));
        }
    }
    if name.len() > 180 {
        name.truncate(180);
        // FNV-1a 64 of the whole Call-ID keeps cut names apart.
        let hash = call_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        name.push_str(&format!("~{hash:016x}"));
    }
    if name.is_empty() {
        name.push('_');
    }
    name.push_str(".wav");
    name
}

/// The URL path of a recording file.
pub fn url_for(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    Some(format!("{URL_PREFIX}{name}"))
}

/// Whether `name` (from a URL) can be a recording file of ours: the
/// characters [`file_name_for`] writes, ending `.wav`, no leading dot.
pub fn is_recording_name(name: &str) -> bool {
    name.len() <= 255
        && name.ends_with(".wav")
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str) -> RecordingEntry {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_and_values() {
        let s = resolve(Path::new("s.toml"), None, Path::new("/d")).unwrap();
        assert!(!s.enabled);
        assert_eq!(s.options, RecordingOptions::default());
        assert_eq!(s.dir, PathBuf::from("/d/recordings"));
        let s = resolve(
            Path::new("s.toml"),
            Some(&entry(
                "enabled = true\ndir = \"/r\"\nformat = \"Mono\"\nrate = 8000\n",
            )),
            Path::new("/d"),
        )
        .unwrap();
        assert!(s.enabled);
        assert_eq!(s.dir, PathBuf::from("/r"));
        assert_eq!(s.options.channel_layout(), RecordingLayout::Mono);
        assert_eq!(s.options.sample_rate(), 8000);
    }

    #[test]
    fn bad_values_are_one_line_errors() {
        let err = |text: &str| {
            resolve(Path::new("s.toml"), Some(&entry(text)), Path::new("/d"))
                .unwrap_err()
                .to_string()
        };
        let e = err("format = \"quad\"");
        assert!(e.contains("[recording] format in s.toml: \"quad\""), "{e}");
        assert!(e.contains("stereo"), "{e}");
        let e = err("rate = 44100");
        assert!(
            e.contains("[recording] rate") && e.contains("8000 or 16000"),
            "{e}"
        );
        let e = err("dir = \"\"");
        assert!(e.contains("[recording] dir"), "{e}");
        assert!(!e.contains('\n'));
        assert!(toml::from_str::<RecordingEntry>("enable = true").is_err());
    }

    #[test]
    fn file_names_are_safe_and_distinct() {
        assert_eq!(
            file_name_for("a84b4c76e66710@pc33.atlanta.com"),
            "a84b4c76e66710_40pc33.atlanta.com.wav"
        );
        assert_eq!(file_name_for("a_b"), "a_5Fb.wav");
        assert_ne!(file_name_for("a@b"), file_name_for("a_40b"));
        assert_eq!(file_name_for("../etc/passwd"), "_2E._2Fetc_2Fpasswd.wav");
        assert_eq!(file_name_for(""), "_.wav");
        let long = "x".repeat(300);
        let name = file_name_for(&long);
        assert!(name.len() < 210 && name.ends_with(".wav"), "{name}");
        assert_ne!(name, file_name_for(&"x".repeat(301)));
        for id in ["a@b", "../x", &long, "é ü/\\?#%"] {
            let name = file_name_for(id);
            assert!(is_recording_name(&name), "{name}");
        }
        assert!(!is_recording_name("../x.wav"));
        assert!(!is_recording_name(".x.wav"));
        assert!(!is_recording_name("x.txt"));
        assert!(!is_recording_name("a/b.wav"));
        assert_eq!(
            url_for(Path::new("/r/a_40b.wav")).as_deref(),
            Some("/recordings/a_40b.wav")
        );
    }
}
