//! Menus as data: the seed's `ivr_menus` and `ivr_menu_options` tables,
//! extended with what FreeSWITCH's `ivr` menus offer (timeouts, retry limits,
//! invalid and exit prompts, digit length, terminator key).
//!
//! A menu deserialises from JSON or TOML with every extension optional, so a
//! row of `ivr_menus` (`menu_id`, `name`, `welcome_message`) is a complete
//! menu; options use the row form of `ivr_menu_options` (`digit`,
//! `action_type`, `action_value`, plus an optional `say` prompt).

mod action;
mod set;
mod store;

pub use action::{Action, MenuOption, MenuOptionRow, Target};
pub(crate) use set::is_dtmf;
pub use set::{MenuError, MenuSet};
pub use store::{InMemoryMenuStore, MenuStore, assemble, seed_menus};

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::prompt::Prompt;

/// One IVR menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Menu {
    /// Identifier, e.g. `"main"` (`ivr_menus.menu_id`).
    pub menu_id: String,
    /// Display name (`ivr_menus.name`).
    pub name: String,
    /// Greeting text, spoken by TTS (`ivr_menus.welcome_message`).
    pub welcome_message: String,
    /// A greeting that replaces `welcome_message` (e.g. a recorded file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<Prompt>,
    /// The keys this menu answers (`ivr_menu_options` rows).
    #[serde(default)]
    pub options: Vec<MenuOption>,
    /// Milliseconds to wait for the first key once the greeting has played
    /// (FreeSWITCH `timeout`).
    #[serde(default = "defaults::timeout_ms")]
    pub timeout_ms: u64,
    /// Milliseconds to wait between keys of a multi-key entry
    /// (FreeSWITCH `inter-digit-timeout`).
    #[serde(default = "defaults::inter_digit_timeout_ms")]
    pub inter_digit_timeout_ms: u64,
    /// Invalid entries allowed before the menu exits (FreeSWITCH `max-failures`).
    #[serde(default = "defaults::max_failures")]
    pub max_failures: u32,
    /// Timeouts allowed before the menu exits (FreeSWITCH `max-timeouts`).
    #[serde(default = "defaults::max_timeouts")]
    pub max_timeouts: u32,
    /// The longest entry in keys (FreeSWITCH `digit-len`).
    #[serde(default = "defaults::digit_len")]
    pub digit_len: usize,
    /// The key that ends a multi-key entry early; `None` for none.
    #[serde(default = "defaults::terminator")]
    pub terminator: Option<char>,
    /// Played after an invalid entry, before the greeting is repeated
    /// (FreeSWITCH `invalid-sound`).
    #[serde(default = "defaults::invalid_prompt")]
    pub invalid_prompt: Prompt,
    /// Played when failures or timeouts are exhausted (FreeSWITCH `exit-sound`).
    #[serde(default = "defaults::exit_prompt")]
    pub exit_prompt: Prompt,
    /// What happens after the exit prompt; hang-up by default.
    #[serde(default = "defaults::on_exit", with = "action::row_form")]
    pub on_exit: Action,
    /// Whether a key press stops the greeting.
    #[serde(default = "defaults::barge_in")]
    pub barge_in: bool,
}

impl Menu {
    /// A menu with FreeSWITCH-like defaults: 10 s first-key timeout, 3 s
    /// between keys, 3 failures, 3 timeouts, one key, `#` as terminator.
    pub fn new(
        menu_id: impl Into<String>,
        name: impl Into<String>,
        welcome_message: impl Into<String>,
    ) -> Self {
        Menu {
            menu_id: menu_id.into(),
            name: name.into(),
            welcome_message: welcome_message.into(),
            greeting: None,
            options: Vec::new(),
            timeout_ms: defaults::timeout_ms(),
            inter_digit_timeout_ms: defaults::inter_digit_timeout_ms(),
            max_failures: defaults::max_failures(),
            max_timeouts: defaults::max_timeouts(),
            digit_len: defaults::digit_len(),
            terminator: defaults::terminator(),
            invalid_prompt: defaults::invalid_prompt(),
            exit_prompt: defaults::exit_prompt(),
            on_exit: defaults::on_exit(),
            barge_in: defaults::barge_in(),
        }
    }

    /// Adds an option (builder style).
    pub fn option(mut self, option: MenuOption) -> Self {
        self.options.push(option);
        self
    }

    /// Sets the first-key and between-keys timeouts (builder style).
    pub fn timeouts(mut self, first: Duration, inter_digit: Duration) -> Self {
        self.timeout_ms = duration_ms(first);
        self.inter_digit_timeout_ms = duration_ms(inter_digit);
        self
    }

    /// Sets the failure and timeout limits (builder style).
    pub fn limits(mut self, max_failures: u32, max_timeouts: u32) -> Self {
        self.max_failures = max_failures;
        self.max_timeouts = max_timeouts;
        self
    }

    /// Sets the longest entry and the terminator key (builder style).
    pub fn digits(mut self, digit_len: usize, terminator: Option<char>) -> Self {
        self.digit_len = digit_len;
        self.terminator = terminator;
        self
    }

    /// The greeting to play: `greeting` if set, else `welcome_message` as TTS.
    pub fn greeting_prompt(&self) -> Prompt {
        self.greeting
            .clone()
            .unwrap_or_else(|| Prompt::tts(self.welcome_message.clone()))
    }

    /// The first-key timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The between-keys timeout.
    pub fn inter_digit_timeout(&self) -> Duration {
        Duration::from_millis(self.inter_digit_timeout_ms)
    }

    /// The option whose keys are exactly `digits`.
    pub fn find(&self, digits: &str) -> Option<&MenuOption> {
        self.options.iter().find(|o| o.digit == digits)
    }

    /// Whether some option is longer than `digits` and starts with it, so
    /// more keys may still come.
    pub fn has_longer(&self, digits: &str) -> bool {
        self.options
            .iter()
            .any(|o| o.digit.len() > digits.len() && o.digit.starts_with(digits))
    }

    /// Every prompt this menu may play (greeting, announcements, invalid and
    /// exit prompts), for rendering ahead.
    pub fn prompts(&self) -> Vec<Prompt> {
        let mut out = vec![
            self.greeting_prompt(),
            self.invalid_prompt.clone(),
            self.exit_prompt.clone(),
        ];
        out.extend(self.options.iter().filter_map(|o| o.say.clone()));
        out
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Default values of the menu extensions.
mod defaults {
    use super::{Action, Prompt};

    pub(super) fn timeout_ms() -> u64 {
        10_000
    }
    pub(super) fn inter_digit_timeout_ms() -> u64 {
        3_000
    }
    pub(super) fn max_failures() -> u32 {
        3
    }
    pub(super) fn max_timeouts() -> u32 {
        3
    }
    pub(super) fn digit_len() -> usize {
        1
    }
    pub(super) fn terminator() -> Option<char> {
        Some('#')
    }
    pub(super) fn invalid_prompt() -> Prompt {
        Prompt::tts("Sorry, that is not a valid option.")
    }
    pub(super) fn exit_prompt() -> Prompt {
        Prompt::tts("Sorry, we could not process your selection. Goodbye.")
    }
    pub(super) fn on_exit() -> Action {
        Action::Hangup
    }
    pub(super) fn barge_in() -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_row_is_a_complete_menu() {
        let m: Menu =
            serde_json::from_str(r#"{"menu_id":"main","name":"Main","welcome_message":"Hello"}"#)
                .unwrap();
        assert_eq!(m, Menu::new("main", "Main", "Hello"));
        assert_eq!(m.greeting_prompt(), Prompt::tts("Hello"));
        assert_eq!(m.timeout(), Duration::from_secs(10));
        assert_eq!(m.on_exit, Action::Hangup);
    }

    #[test]
    fn extensions_and_options_from_json() {
        let m: Menu = serde_json::from_str(
            r#"{"menu_id":"acct","name":"Account","welcome_message":"Enter your account",
                "greeting":{"file":"/p/acct.wav"},
                "timeout_ms":5000,"inter_digit_timeout_ms":1500,"max_failures":2,
                "max_timeouts":1,"digit_len":4,"terminator":"*",
                "invalid_prompt":"Bad.","exit_prompt":{"file":"/p/bye.wav"},
                "on_exit":{"action_type":"transfer","action_value":"group:operators"},
                "barge_in":false,
                "options":[{"digit":"1234","action_type":"hangup","action_value":""}]}"#,
        )
        .unwrap();
        assert_eq!(m.greeting_prompt(), Prompt::file("/p/acct.wav"));
        assert_eq!(m.inter_digit_timeout(), Duration::from_millis(1500));
        assert_eq!((m.max_failures, m.max_timeouts, m.digit_len), (2, 1, 4));
        assert_eq!(m.terminator, Some('*'));
        assert_eq!(m.invalid_prompt, Prompt::tts("Bad."));
        assert_eq!(
            m.on_exit,
            Action::Transfer(Target::Group("operators".into()))
        );
        assert!(!m.barge_in);
        assert_eq!(m.find("1234").map(|o| &o.action), Some(&Action::Hangup));
        assert!(m.has_longer("12"));
        assert!(!m.has_longer("1234"));
        // Round trip through JSON.
        let back: Menu = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn prompts_lists_everything_to_prerender() {
        let m = Menu::new("m", "M", "Hi")
            .option(MenuOption::new("1", Action::Hangup).say(Prompt::tts("Bye")));
        let p = m.prompts();
        assert!(p.contains(&Prompt::tts("Hi")));
        assert!(p.contains(&Prompt::tts("Bye")));
        assert_eq!(p.len(), 4);
    }
}
