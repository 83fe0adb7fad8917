//! Webhook applications: an HTTP service decides the next steps as JSON
//! verbs, in the manner of jambonz and TwiML.
//!
//! The machine emits [`crate::Event::Webhook`] with a URL and a JSON payload;
//! the driver POSTs it and hands the answer body (or the failure) to
//! [`crate::Ivr::handle_webhook_response`]. The answer is an array of verbs,
//! or an object `{"verbs": [...]}`:
//!
//! ```json
//! [
//!   {"verb": "set", "variables": {"account": "42"}},
//!   {"verb": "say", "text": "Your balance is ${balance} dollars.", "voice": "joe"},
//!   {"verb": "play", "file": "/prompts/beep.wav"},
//!   {"verb": "gather", "num_digits": 4, "finish_on_key": "#", "timeout": 5,
//!    "inter_digit_timeout": 2, "action_hook": "http://127.0.0.1:3001/pin",
//!    "say": "Enter your PIN"},
//!   {"verb": "transfer", "group": "support"},
//!   {"verb": "transfer", "extension": "1001"},
//!   {"verb": "transfer", "number": "+15551234", "trunk": "carrier"},
//!   {"verb": "goto", "menu": "main"},
//!   {"verb": "redirect", "url": "http://127.0.0.1:3001/other"},
//!   {"verb": "hangup"}
//! ]
//! ```
//!
//! The verbs run in order. `gather` posts the keys to `action_hook` (default:
//! the URL that returned it) and the answer replaces what was left; a gather
//! that times out without keys goes on with the next verb (TwiML's rule).
//! `transfer`, `hangup`, `goto` and `redirect` end the list. When the list
//! runs out the call is hung up. jambonz spellings (`numDigits`,
//! `finishOnKey`, `interDigitTimeout`, `actionHook`, `bargein`) are accepted.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::menu::Target;
use crate::prompt::Prompt;

/// One step of a webhook answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "verb", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verb {
    /// Speak text.
    Say {
        /// The words (with `${name}` variables).
        text: String,
        /// The voice; engine default when absent.
        #[serde(default)]
        voice: Option<String>,
    },
    /// Play an audio file.
    Play {
        /// Path or URL.
        #[serde(alias = "url")]
        file: String,
    },
    /// Collect keys.
    Gather(GatherVerb),
    /// Transfer the call.
    Transfer(TransferVerb),
    /// Hang up.
    Hangup,
    /// Set session variables.
    #[serde(alias = "set_variables")]
    Set {
        /// Name to value.
        variables: BTreeMap<String, String>,
    },
    /// Enter a menu of the IVR's menu set.
    Goto {
        /// The menu id.
        menu: String,
    },
    /// Ask another URL for the next steps.
    Redirect {
        /// The URL.
        url: String,
    },
}

/// The `gather` verb.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct GatherVerb {
    /// The most keys to collect (default 32).
    #[serde(default = "default_num_digits", alias = "numDigits")]
    pub num_digits: usize,
    /// The key that ends the entry; `""` for none (default `#`).
    #[serde(default = "default_finish", alias = "finishOnKey")]
    pub finish_on_key: String,
    /// Seconds to wait for the first key after the prompts (default 5).
    #[serde(default = "default_timeout")]
    pub timeout: f64,
    /// Seconds to wait between keys (default: `timeout`).
    #[serde(default, alias = "interDigitTimeout")]
    pub inter_digit_timeout: Option<f64>,
    /// Where the keys are posted; default the URL that returned this verb.
    #[serde(default, alias = "actionHook", alias = "action")]
    pub action_hook: Option<String>,
    /// Spoken while waiting (a string, or `{"text", "voice"}`).
    #[serde(default)]
    pub say: Option<Prompt>,
    /// Played after `say` (`{"file"}` or `{"url"}`, or a string path).
    #[serde(default, deserialize_with = "play_prompt")]
    pub play: Option<Prompt>,
    /// Whether a key stops the prompts (default true).
    #[serde(default = "default_true", alias = "bargein")]
    pub barge_in: bool,
}

impl GatherVerb {
    /// The first-key timeout.
    pub fn first_digit_timeout(&self) -> Duration {
        seconds(self.timeout)
    }

    /// The between-keys timeout.
    pub fn inter_digit_timeout(&self) -> Duration {
        seconds(self.inter_digit_timeout.unwrap_or(self.timeout))
    }

    /// The terminator key, if any.
    pub fn terminator(&self) -> Option<char> {
        self.finish_on_key.chars().next()
    }

    /// The prompts to play, in order.
    pub fn prompts(&self) -> Vec<Prompt> {
        self.say.iter().chain(self.play.iter()).cloned().collect()
    }
}

fn seconds(s: f64) -> Duration {
    if s.is_finite() && s > 0.0 {
        Duration::from_secs_f64(s.min(86_400.0))
    } else {
        Duration::from_secs(5)
    }
}

fn default_num_digits() -> usize {
    32
}
fn default_finish() -> String {
    "#".into()
}
fn default_timeout() -> f64 {
    5.0
}
fn default_true() -> bool {
    true
}

fn play_prompt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Prompt>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Play {
        Path(String),
        Object {
            #[serde(alias = "url")]
            file: String,
        },
    }
    Ok(Option::<Play>::deserialize(d)?.map(|p| match p {
        Play::Path(file) | Play::Object { file } => Prompt::file(file),
    }))
}

/// The `transfer` verb: exactly one of `extension`, `group` or `number`
/// (with an optional `trunk`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawTransfer")]
#[non_exhaustive]
pub struct TransferVerb {
    /// Where to.
    pub target: Target,
}

#[derive(Deserialize)]
struct RawTransfer {
    extension: Option<String>,
    group: Option<String>,
    number: Option<String>,
    trunk: Option<String>,
}

impl TryFrom<RawTransfer> for TransferVerb {
    type Error = String;

    fn try_from(raw: RawTransfer) -> Result<Self, String> {
        let target = match (raw.extension, raw.group, raw.number) {
            (Some(e), None, None) => Target::Extension(e),
            (None, Some(g), None) => Target::Group(g),
            (None, None, Some(number)) => Target::External {
                number,
                trunk: raw.trunk,
            },
            _ => {
                return Err("transfer needs exactly one of extension, group, number".into());
            }
        };
        Ok(TransferVerb { target })
    }
}

/// Why a webhook answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The body is not the JSON described in the module docs.
    #[error("webhook answer is not valid: {0}")]
    Invalid(String),
    /// The HTTP request failed (reported by the driver).
    #[error("webhook request failed: {0}")]
    Request(String),
    /// No answer before the machine's webhook timeout.
    #[error("webhook timed out")]
    Timeout,
    /// `goto` named a menu that is not in the set.
    #[error("webhook named unknown menu `{0}`")]
    UnknownMenu(String),
}

/// Parses a webhook answer: an array of verbs or `{"verbs": [...]}`.
pub fn parse_verbs(body: &[u8]) -> Result<Vec<Verb>, WebhookError> {
    // Parse to a Value first so the error names the verb that failed.
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| WebhookError::Invalid(e.to_string()))?;
    let list = match value {
        serde_json::Value::Object(mut map) => match map.remove("verbs") {
            Some(list) => list,
            None => return Err(WebhookError::Invalid("expected an array of verbs".into())),
        },
        other => other,
    };
    let items = match list {
        serde_json::Value::Array(items) => items,
        _ => return Err(WebhookError::Invalid("expected an array of verbs".into())),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            serde_json::from_value(item)
                .map_err(|e| WebhookError::Invalid(format!("verb {i}: {e}")))
        })
        .collect()
}

/// What the machine POSTs to a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct WebhookPayload {
    /// `"option"` (a menu key chose a webhook action), `"gather"` (keys of a
    /// gather verb) or `"redirect"`.
    pub event: String,
    /// The menu the caller was in, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub menu_id: Option<String>,
    /// The keys that led here.
    pub digits: String,
    /// The caller's number.
    pub caller_id: String,
    /// The number dialled.
    pub dialled_number: String,
    /// Application variables.
    pub variables: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verb_parses() {
        let body = br#"[
            {"verb":"set","variables":{"account":"42"}},
            {"verb":"say","text":"Hi ${account}","voice":"joe"},
            {"verb":"play","url":"/p/beep.wav"},
            {"verb":"gather","numDigits":4,"finishOnKey":"*","timeout":2.5,
             "actionHook":"http://127.0.0.1:1/pin","say":"Enter your PIN",
             "play":{"url":"/p/tone.wav"},"bargein":false},
            {"verb":"transfer","group":"support"},
            {"verb":"transfer","extension":"1001"},
            {"verb":"transfer","number":"+15551234","trunk":"carrier"},
            {"verb":"goto","menu":"main"},
            {"verb":"redirect","url":"http://127.0.0.1:1/next"},
            {"verb":"hangup"}
        ]"#;
        let verbs = parse_verbs(body).unwrap();
        assert_eq!(verbs.len(), 10);
        assert_eq!(
            verbs[1],
            Verb::Say {
                text: "Hi ${account}".into(),
                voice: Some("joe".into())
            }
        );
        assert_eq!(
            verbs[2],
            Verb::Play {
                file: "/p/beep.wav".into()
            }
        );
        let Verb::Gather(g) = &verbs[3] else {
            panic!("not gather")
        };
        assert_eq!(g.num_digits, 4);
        assert_eq!(g.terminator(), Some('*'));
        assert_eq!(g.first_digit_timeout(), Duration::from_millis(2500));
        assert_eq!(g.inter_digit_timeout(), Duration::from_millis(2500));
        assert_eq!(g.action_hook.as_deref(), Some("http://127.0.0.1:1/pin"));
        assert_eq!(
            g.prompts(),
            vec![Prompt::tts("Enter your PIN"), Prompt::file("/p/tone.wav")]
        );
        assert!(!g.barge_in);
        let Verb::Transfer(t) = &verbs[6] else {
            panic!("not transfer")
        };
        assert_eq!(
            t.target,
            Target::External {
                number: "+15551234".into(),
                trunk: Some("carrier".into())
            }
        );
        assert_eq!(verbs[9], Verb::Hangup);
    }

    #[test]
    fn wrapped_form_and_defaults() {
        let verbs = parse_verbs(br#"{"verbs":[{"verb":"gather"}]}"#).unwrap();
        let Verb::Gather(g) = &verbs[0] else {
            panic!("not gather")
        };
        assert_eq!(g.num_digits, 32);
        assert_eq!(g.terminator(), Some('#'));
        assert_eq!(g.first_digit_timeout(), Duration::from_secs(5));
        assert!(g.barge_in);
        let none = parse_verbs(br#"[{"verb":"gather","finish_on_key":""}]"#).unwrap();
        let Verb::Gather(g) = &none[0] else {
            panic!("not gather")
        };
        assert_eq!(g.terminator(), None);
        assert_eq!(parse_verbs(b"[]").unwrap(), vec![]);
    }

    #[test]
    fn bad_answers_are_errors() {
        for (body, needle) in [
            (&b"not json"[..], "expected"),
            (br#"{"x":1}"#, "array of verbs"),
            (br#""hello""#, "array of verbs"),
            (br#"[{"verb":"dance"}]"#, "verb 0"),
            (br#"[{"verb":"hangup"},{"verb":"transfer"}]"#, "verb 1"),
            (
                br#"[{"verb":"transfer","group":"a","extension":"1"}]"#,
                "exactly one",
            ),
            (br#"[{"verb":"say"}]"#, "text"),
        ] {
            let err = parse_verbs(body).unwrap_err().to_string();
            assert!(err.contains(needle), "{err} lacks {needle}");
        }
    }

    #[test]
    fn payload_json() {
        let p = WebhookPayload {
            event: "option".into(),
            menu_id: Some("main".into()),
            digits: "3".into(),
            caller_id: "1001".into(),
            dialled_number: "9999".into(),
            variables: BTreeMap::new(),
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["event"], "option");
        assert_eq!(v["menu_id"], "main");
        assert_eq!(v["caller_id"], "1001");
    }
}
