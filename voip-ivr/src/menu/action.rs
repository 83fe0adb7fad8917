//! Menu options and their actions, with the row form of `ivr_menu_options`.
//!
//! | `action_type` | `action_value` | action |
//! |---|---|---|
//! | `menu` (or `submenu`) | a menu id | [`Action::Submenu`] |
//! | `back` | (empty) | [`Action::Back`] |
//! | `repeat` | (empty) | [`Action::Repeat`] |
//! | `transfer` | `1001` | [`Target::Extension`] |
//! | `transfer` | `group:sales` | [`Target::Group`] |
//! | `transfer` | `external:+15551234` or `trunk:carrier:+15551234` | [`Target::External`] |
//! | `hangup` | (empty) | [`Action::Hangup`] |
//! | `webhook` | a URL | [`Action::Webhook`] |

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::prompt::Prompt;

/// Where a call is transferred.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Target {
    /// A local extension, e.g. `1001`.
    Extension(String),
    /// An agent group (queue), e.g. `sales`.
    Group(String),
    /// An outside number, through a named trunk or the default route.
    External {
        /// The number to dial.
        number: String,
        /// The trunk to use; `None` lets the router choose.
        trunk: Option<String>,
    },
}

impl Target {
    /// Parses the `action_value` of a `transfer` row (see the module table).
    pub fn parse(value: &str) -> Option<Target> {
        let value = value.trim();
        if let Some(group) = value.strip_prefix("group:") {
            return non_empty(group).map(|g| Target::Group(g.to_string()));
        }
        if let Some(number) = value.strip_prefix("external:") {
            return non_empty(number).map(|n| Target::External {
                number: n.to_string(),
                trunk: None,
            });
        }
        if let Some(rest) = value.strip_prefix("trunk:") {
            let (trunk, number) = rest.split_once(':')?;
            return Some(Target::External {
                number: non_empty(number)?.to_string(),
                trunk: Some(non_empty(trunk)?.to_string()),
            });
        }
        non_empty(value).map(|e| Target::Extension(e.to_string()))
    }
}

impl fmt::Display for Target {
    /// The `action_value` form that [`Target::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Extension(e) => f.write_str(e),
            Target::Group(g) => write!(f, "group:{g}"),
            Target::External {
                number,
                trunk: None,
            } => write!(f, "external:{number}"),
            Target::External {
                number,
                trunk: Some(trunk),
            } => write!(f, "trunk:{trunk}:{number}"),
        }
    }
}

fn non_empty(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty()).then_some(s)
}

/// What a key does.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Enter another menu (remembered, so [`Action::Back`] returns).
    Submenu(String),
    /// Return to the menu that led here (the same menu at the top).
    Back,
    /// Play this menu's greeting again.
    Repeat,
    /// Transfer the call.
    Transfer(Target),
    /// Hang up.
    Hangup,
    /// Ask an HTTP application what to do next (see [`crate::webhook`]).
    Webhook {
        /// The URL the driver POSTs the payload to.
        url: String,
    },
}

impl Action {
    /// Parses the `(action_type, action_value)` pair of a row.
    pub fn from_row(action_type: &str, action_value: &str) -> Result<Action, String> {
        let value = action_value.trim();
        let need = |what: &str| -> Result<String, String> {
            non_empty(value)
                .map(str::to_string)
                .ok_or_else(|| format!("action `{action_type}` needs {what} in action_value"))
        };
        match action_type.trim().to_ascii_lowercase().as_str() {
            "menu" | "submenu" => Ok(Action::Submenu(need("a menu id")?)),
            "back" => Ok(Action::Back),
            "repeat" => Ok(Action::Repeat),
            "transfer" => Target::parse(value)
                .map(Action::Transfer)
                .ok_or_else(|| format!("bad transfer target `{value}`")),
            "hangup" => Ok(Action::Hangup),
            "webhook" => Ok(Action::Webhook {
                url: need("a URL")?,
            }),
            other => Err(format!("unknown action_type `{other}`")),
        }
    }

    /// The `(action_type, action_value)` pair of a row.
    pub fn to_row(&self) -> (&'static str, String) {
        match self {
            Action::Submenu(m) => ("menu", m.clone()),
            Action::Back => ("back", String::new()),
            Action::Repeat => ("repeat", String::new()),
            Action::Transfer(t) => ("transfer", t.to_string()),
            Action::Hangup => ("hangup", String::new()),
            Action::Webhook { url } => ("webhook", url.clone()),
        }
    }
}

/// One key (or key sequence) of a menu and what it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "MenuOptionRow", into = "MenuOptionRow")]
#[non_exhaustive]
pub struct MenuOption {
    /// The keys, e.g. `"1"`, `"*"`, `"100"`.
    pub digit: String,
    /// What they do.
    pub action: Action,
    /// Said before the action runs (e.g. "Transferring to sales").
    pub say: Option<Prompt>,
}

impl MenuOption {
    /// An option without an announcement.
    pub fn new(digit: impl Into<String>, action: Action) -> Self {
        MenuOption {
            digit: digit.into(),
            action,
            say: None,
        }
    }

    /// Adds the announcement said before the action (builder style).
    pub fn say(mut self, prompt: impl Into<Prompt>) -> Self {
        self.say = Some(prompt.into());
        self
    }
}

/// A row of `ivr_menu_options`, plus the optional announcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuOptionRow {
    /// The menu the row belongs to (may be empty when nested in a menu).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub menu_id: String,
    /// The keys.
    pub digit: String,
    /// `menu`, `back`, `repeat`, `transfer`, `hangup` or `webhook`.
    pub action_type: String,
    /// The action's argument (see the module table).
    #[serde(default)]
    pub action_value: String,
    /// Said before the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub say: Option<Prompt>,
}

impl TryFrom<MenuOptionRow> for MenuOption {
    type Error = String;

    fn try_from(row: MenuOptionRow) -> Result<Self, String> {
        Ok(MenuOption {
            action: Action::from_row(&row.action_type, &row.action_value)?,
            digit: row.digit,
            say: row.say,
        })
    }
}

impl From<MenuOption> for MenuOptionRow {
    fn from(option: MenuOption) -> Self {
        let (action_type, action_value) = option.action.to_row();
        MenuOptionRow {
            menu_id: String::new(),
            digit: option.digit,
            action_type: action_type.to_string(),
            action_value,
            say: option.say,
        }
    }
}

/// Serde adapter: an [`Action`] as `{"action_type": .., "action_value": ..}`.
pub(super) mod row_form {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Action;

    #[derive(Serialize, Deserialize)]
    struct Row {
        action_type: String,
        #[serde(default)]
        action_value: String,
    }

    pub(crate) fn serialize<S: Serializer>(action: &Action, s: S) -> Result<S::Ok, S::Error> {
        let (action_type, action_value) = action.to_row();
        Row {
            action_type: action_type.to_string(),
            action_value,
        }
        .serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Action, D::Error> {
        let row = Row::deserialize(d)?;
        Action::from_row(&row.action_type, &row.action_value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print() {
        for (text, target) in [
            ("1001", Target::Extension("1001".into())),
            ("group:sales", Target::Group("sales".into())),
            (
                "external:+15551234",
                Target::External {
                    number: "+15551234".into(),
                    trunk: None,
                },
            ),
            (
                "trunk:carrier:5551234",
                Target::External {
                    number: "5551234".into(),
                    trunk: Some("carrier".into()),
                },
            ),
        ] {
            assert_eq!(Target::parse(text), Some(target.clone()), "{text}");
            assert_eq!(target.to_string(), text);
        }
        assert_eq!(Target::parse(""), None);
        assert_eq!(Target::parse("group:"), None);
        assert_eq!(Target::parse("trunk:carrier"), None);
        assert_eq!(Target::parse("trunk::123"), None);
    }

    #[test]
    fn actions_from_rows() {
        assert_eq!(
            Action::from_row("menu", "support"),
            Ok(Action::Submenu("support".into()))
        );
        assert_eq!(
            Action::from_row("SubMenu", " x "),
            Ok(Action::Submenu("x".into()))
        );
        assert_eq!(Action::from_row("back", ""), Ok(Action::Back));
        assert_eq!(Action::from_row("repeat", ""), Ok(Action::Repeat));
        assert_eq!(Action::from_row("hangup", "ignored"), Ok(Action::Hangup));
        assert_eq!(
            Action::from_row("webhook", "http://127.0.0.1/ivr"),
            Ok(Action::Webhook {
                url: "http://127.0.0.1/ivr".into()
            })
        );
        assert!(
            Action::from_row("menu", "")
                .unwrap_err()
                .contains("menu id")
        );
        assert!(
            Action::from_row("dance", "")
                .unwrap_err()
                .contains("unknown")
        );
        assert!(Action::from_row("transfer", "").is_err());
    }

    #[test]
    fn option_row_round_trip() {
        let json = r#"{"menu_id":"main","digit":"1","action_type":"transfer","action_value":"group:sales","say":"Transferring to sales"}"#;
        let o: MenuOption = serde_json::from_str(json).unwrap();
        assert_eq!(
            o,
            MenuOption::new("1", Action::Transfer(Target::Group("sales".into())))
                .say("Transferring to sales")
        );
        let back = serde_json::to_string(&o).unwrap();
        assert_eq!(
            back,
            r#"{"digit":"1","action_type":"transfer","action_value":"group:sales","say":{"text":"Transferring to sales"}}"#
        );
        let bad = r#"{"digit":"1","action_type":"fly"}"#;
        assert!(serde_json::from_str::<MenuOption>(bad).is_err());
    }
}
