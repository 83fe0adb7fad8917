//! A validated collection of menus.

use std::collections::{BTreeMap, HashSet};

use super::{Action, Menu};

/// Why a set of menus was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MenuError {
    /// Two menus share an id.
    #[error("menu `{0}` is defined twice")]
    DuplicateMenu(String),
    /// An option points at a menu that does not exist.
    #[error("menu `{menu}` key `{digit}` goes to unknown menu `{target}`")]
    UnknownTarget {
        /// The menu holding the option.
        menu: String,
        /// The option's keys.
        digit: String,
        /// The missing menu.
        target: String,
    },
    /// Keys that are empty, too long, not DTMF, or contain the terminator.
    #[error("menu `{menu}`: bad keys `{digit}`: {why}")]
    BadDigits {
        /// The menu.
        menu: String,
        /// The option's keys.
        digit: String,
        /// What is wrong.
        why: &'static str,
    },
    /// Two options with the same keys.
    #[error("menu `{menu}`: key `{digit}` is defined twice")]
    DuplicateOption {
        /// The menu.
        menu: String,
        /// The keys.
        digit: String,
    },
    /// A limit or timeout of zero, or a digit length of zero.
    #[error("menu `{menu}`: {field} must be at least 1")]
    BadSetting {
        /// The menu.
        menu: String,
        /// The setting.
        field: &'static str,
    },
    /// An option row that does not parse, or names an unknown menu.
    #[error("menu option row: {0}")]
    BadRow(String),
    /// A menu id that is not in the set.
    #[error("no menu `{0}`")]
    NotFound(String),
    /// Loading from a store failed.
    #[error("menu store: {0}")]
    Store(String),
}

/// The DTMF keys (RFC 4733 events 0–15).
pub(crate) fn is_dtmf(c: char) -> bool {
    matches!(c, '0'..='9' | '*' | '#' | 'A'..='D')
}

/// Menus by id, checked: every submenu exists, keys are DTMF, unique, no
/// longer than the menu's `digit_len`, and never contain the terminator after
/// their first key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MenuSet {
    menus: BTreeMap<String, Menu>,
}

impl MenuSet {
    /// Validates and indexes `menus`.
    pub fn new(menus: impl IntoIterator<Item = Menu>) -> Result<MenuSet, MenuError> {
        let mut map = BTreeMap::new();
        for menu in menus {
            if map.contains_key(&menu.menu_id) {
                return Err(MenuError::DuplicateMenu(menu.menu_id));
            }
            map.insert(menu.menu_id.clone(), menu);
        }
        for menu in map.values() {
            check_menu(menu, &map)?;
        }
        Ok(MenuSet { menus: map })
    }

    /// The menu with this id.
    pub fn get(&self, menu_id: &str) -> Option<&Menu> {
        self.menus.get(menu_id)
    }

    /// Whether the set holds this id.
    pub fn contains(&self, menu_id: &str) -> bool {
        self.menus.contains_key(menu_id)
    }

    /// Every menu, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Menu> {
        self.menus.values()
    }

    /// Number of menus.
    pub fn len(&self) -> usize {
        self.menus.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.menus.is_empty()
    }
}

fn check_menu(menu: &Menu, all: &BTreeMap<String, Menu>) -> Result<(), MenuError> {
    let setting = |field| MenuError::BadSetting {
        menu: menu.menu_id.clone(),
        field,
    };
    if menu.digit_len == 0 {
        return Err(setting("digit_len"));
    }
    if menu.max_failures == 0 {
        return Err(setting("max_failures"));
    }
    if menu.max_timeouts == 0 {
        return Err(setting("max_timeouts"));
    }
    if menu.timeout_ms == 0 {
        return Err(setting("timeout_ms"));
    }
    if menu.inter_digit_timeout_ms == 0 {
        return Err(setting("inter_digit_timeout_ms"));
    }
    if let Some(t) = menu.terminator.filter(|t| !is_dtmf(*t)) {
        return Err(MenuError::BadDigits {
            menu: menu.menu_id.clone(),
            digit: t.to_string(),
            why: "the terminator is not a DTMF key",
        });
    }
    let mut seen = HashSet::new();
    let actions = menu
        .options
        .iter()
        .map(|o| (o.digit.as_str(), &o.action))
        .chain(std::iter::once(("(on_exit)", &menu.on_exit)));
    for option in &menu.options {
        let bad = |why| MenuError::BadDigits {
            menu: menu.menu_id.clone(),
            digit: option.digit.clone(),
            why,
        };
        if option.digit.is_empty() {
            return Err(bad("empty"));
        }
        if !option.digit.chars().all(is_dtmf) {
            return Err(bad("not DTMF keys (0-9 * # A-D)"));
        }
        if option.digit.chars().count() > menu.digit_len {
            return Err(bad("longer than the menu's digit_len"));
        }
        if menu
            .terminator
            .is_some_and(|t| option.digit.chars().skip(1).any(|c| c == t))
        {
            return Err(bad("the terminator key after the first key"));
        }
        if !seen.insert(option.digit.as_str()) {
            return Err(MenuError::DuplicateOption {
                menu: menu.menu_id.clone(),
                digit: option.digit.clone(),
            });
        }
    }
    for (digit, action) in actions {
        match action {
            Action::Submenu(target) if !all.contains_key(target) => {
                return Err(MenuError::UnknownTarget {
                    menu: menu.menu_id.clone(),
                    digit: digit.to_string(),
                    target: target.clone(),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::menu::MenuOption;

    fn menu() -> Menu {
        Menu::new("main", "Main", "Hi")
    }

    #[test]
    fn accepts_the_seed() {
        let set = MenuSet::new(crate::menu::seed_menus()).unwrap();
        assert!(set.contains("main"));
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn refuses_bad_menus() {
        let cases: Vec<(Vec<Menu>, &str)> = vec![
            (vec![menu(), menu()], "defined twice"),
            (
                vec![menu().option(MenuOption::new("1", Action::Submenu("x".into())))],
                "unknown menu `x`",
            ),
            (
                vec![menu().option(MenuOption::new("", Action::Hangup))],
                "empty",
            ),
            (
                vec![menu().option(MenuOption::new("x", Action::Hangup))],
                "not DTMF",
            ),
            (
                vec![menu().option(MenuOption::new("12", Action::Hangup))],
                "digit_len",
            ),
            (
                vec![
                    menu()
                        .digits(3, Some('#'))
                        .option(MenuOption::new("1#", Action::Hangup)),
                ],
                "terminator",
            ),
            (
                vec![
                    menu()
                        .option(MenuOption::new("1", Action::Hangup))
                        .option(MenuOption::new("1", Action::Repeat)),
                ],
                "`1` is defined twice",
            ),
            (vec![menu().limits(0, 1)], "max_failures"),
            (vec![menu().limits(1, 0)], "max_timeouts"),
            (vec![menu().digits(0, None)], "digit_len must"),
            (vec![menu().digits(1, Some('x'))], "terminator is not"),
        ];
        for (menus, needle) in cases {
            let err = MenuSet::new(menus).unwrap_err().to_string();
            assert!(err.contains(needle), "{err} lacks {needle}");
        }
        let mut exit_to_nowhere = menu();
        exit_to_nowhere.on_exit = Action::Submenu("gone".into());
        assert!(MenuSet::new([exit_to_nowhere]).is_err());
    }

    #[test]
    fn terminator_may_be_a_whole_option() {
        let m = menu().option(MenuOption::new("#", Action::Back));
        assert!(MenuSet::new([m]).is_ok());
    }
}
