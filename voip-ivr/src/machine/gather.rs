//! Collecting keys: prompts with barge-in, first-key and between-keys
//! timeouts, a terminator key and a maximum length.

use std::collections::VecDeque;
use std::time::Duration;

use crate::menu::Menu;
use crate::prompt::Prompt;

/// How to collect an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GatherSpec {
    /// The most keys.
    pub(crate) max_digits: usize,
    /// The key that ends the entry.
    pub(crate) terminator: Option<char>,
    /// Wait for the first key once the prompts are done.
    pub(crate) first_digit_timeout: Duration,
    /// Wait between keys.
    pub(crate) inter_digit_timeout: Duration,
    /// Whether a key stops the prompts.
    pub(crate) barge_in: bool,
}

impl GatherSpec {
    pub(crate) fn for_menu(menu: &Menu) -> Self {
        GatherSpec {
            max_digits: menu.digit_len.max(1),
            terminator: menu.terminator,
            first_digit_timeout: menu.timeout(),
            inter_digit_timeout: menu.inter_digit_timeout(),
            barge_in: menu.barge_in,
        }
    }
}

/// Whose entry this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A menu's options.
    Menu(String),
    /// A webhook gather verb: the keys go to this URL.
    Hook(String),
}

/// How an entry ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Keys (possibly none, when only the terminator was pressed).
    Entry(String),
    /// No key before the first-key timeout.
    Timeout,
}

/// What a key did to the entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyResult {
    /// Ignored (a prompt without barge-in is playing).
    Ignored,
    /// Kept; wait for more.
    More,
    /// The entry is complete.
    Done(Outcome),
}

/// An entry being collected.
#[derive(Debug, Clone)]
pub(crate) struct Gather {
    pub(crate) spec: GatherSpec,
    pub(crate) purpose: Purpose,
    /// Prompts still to play after the current one.
    pub(crate) queued: VecDeque<Prompt>,
    /// Whether a prompt is playing.
    pub(crate) playing: bool,
    pub(crate) digits: String,
}

impl Gather {
    pub(crate) fn new(spec: GatherSpec, purpose: Purpose, prompts: Vec<Prompt>) -> Self {
        Gather {
            spec,
            purpose,
            queued: prompts.into(),
            playing: false,
            digits: String::new(),
        }
    }

    /// Takes a key. `menu` (for menu entries) lets a key complete the entry
    /// as soon as it can only be one option, or can be none.
    pub(crate) fn key(&mut self, key: char, menu: Option<&Menu>) -> KeyResult {
        if self.playing && !self.spec.barge_in {
            return KeyResult::Ignored;
        }
        if self.spec.terminator == Some(key) {
            // A terminator that is itself the first key of an option is a key.
            let is_option_key =
                self.digits.is_empty() && menu.is_some_and(|m| m.has_prefix(&key.to_string()));
            if !is_option_key {
                return KeyResult::Done(Outcome::Entry(std::mem::take(&mut self.digits)));
            }
        }
        self.digits.push(key);
        if self.digits.chars().count() >= self.spec.max_digits {
            return KeyResult::Done(Outcome::Entry(std::mem::take(&mut self.digits)));
        }
        // In a menu, stop as soon as no longer option can still match: the
        // keys are then an option, or can never be one.
        if menu.is_some_and(|m| !m.has_longer(&self.digits)) {
            return KeyResult::Done(Outcome::Entry(std::mem::take(&mut self.digits)));
        }
        KeyResult::More
    }
}

impl Menu {
    /// Whether some option starts with `keys`.
    pub(crate) fn has_prefix(&self, keys: &str) -> bool {
        self.options.iter().any(|o| o.digit.starts_with(keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::menu::{Action, MenuOption};

    fn menu() -> Menu {
        Menu::new("m", "M", "hi")
            .digits(4, Some('#'))
            .option(MenuOption::new("1", Action::Repeat))
            .option(MenuOption::new("12", Action::Repeat))
            .option(MenuOption::new("123", Action::Hangup))
            .option(MenuOption::new("#", Action::Back))
    }

    fn gather(menu: &Menu) -> Gather {
        Gather::new(
            GatherSpec::for_menu(menu),
            Purpose::Menu("m".into()),
            vec![],
        )
    }

    #[test]
    fn menu_keys_complete_on_unique_match_or_no_match() {
        let m = menu();
        let mut g = gather(&m);
        assert_eq!(g.key('1', Some(&m)), KeyResult::More);
        assert_eq!(g.key('2', Some(&m)), KeyResult::More);
        assert_eq!(
            g.key('3', Some(&m)),
            KeyResult::Done(Outcome::Entry("123".into()))
        );
        assert_eq!(
            g.key('9', Some(&m)),
            KeyResult::Done(Outcome::Entry("9".into()))
        );
        assert_eq!(g.key('1', Some(&m)), KeyResult::More);
        assert_eq!(
            g.key('#', Some(&m)),
            KeyResult::Done(Outcome::Entry("1".into()))
        );
        // The terminator as the first key is the "#" option.
        assert_eq!(
            g.key('#', Some(&m)),
            KeyResult::Done(Outcome::Entry("#".into()))
        );
    }

    #[test]
    fn free_entry_ends_at_max_or_terminator() {
        let spec = GatherSpec {
            max_digits: 3,
            terminator: Some('#'),
            first_digit_timeout: Duration::from_secs(5),
            inter_digit_timeout: Duration::from_secs(2),
            barge_in: false,
        };
        let mut g = Gather::new(spec, Purpose::Hook("u".into()), vec![]);
        assert_eq!(
            g.key('#', None),
            KeyResult::Done(Outcome::Entry(String::new()))
        );
        g.key('4', None);
        g.key('5', None);
        assert_eq!(
            g.key('6', None),
            KeyResult::Done(Outcome::Entry("456".into()))
        );
        g.playing = true;
        assert_eq!(g.key('7', None), KeyResult::Ignored);
    }
}
