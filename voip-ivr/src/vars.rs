//! Session variables: what the IVR knows about the call.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Variables of one IVR session, sent with every webhook and usable in
/// prompt text as `${name}`.
///
/// Built-in names: `caller_id`, `dialled_number`, `digits` (the last entry),
/// `menu_id` (the current menu); everything else is custom.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variables {
    /// The caller's number (From user part or P-Asserted-Identity).
    pub caller_id: String,
    /// The number dialled (Request-URI user part), e.g. `9999`.
    pub dialled_number: String,
    /// The last keys collected.
    pub digits: String,
    /// The current menu.
    pub menu_id: String,
    /// Application variables (set by webhooks or the application).
    pub custom: BTreeMap<String, String>,
}

impl Variables {
    /// Variables for a call from `caller_id` to `dialled_number`.
    pub fn new(caller_id: impl Into<String>, dialled_number: impl Into<String>) -> Self {
        Variables {
            caller_id: caller_id.into(),
            dialled_number: dialled_number.into(),
            ..Variables::default()
        }
    }

    /// The value of a built-in or custom variable.
    pub fn get(&self, name: &str) -> Option<String> {
        match name {
            "caller_id" => Some(self.caller_id.clone()),
            "dialled_number" => Some(self.dialled_number.clone()),
            "digits" => Some(self.digits.clone()),
            "menu_id" => Some(self.menu_id.clone()),
            other => self.custom.get(other).cloned(),
        }
    }

    /// Sets a variable; built-in names set the built-in field.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match name {
            "caller_id" => self.caller_id = value,
            "dialled_number" => self.dialled_number = value,
            "digits" => self.digits = value,
            "menu_id" => self.menu_id = value,
            other => {
                self.custom.insert(other.to_string(), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_and_custom() {
        let mut v = Variables::new("1001", "9999");
        assert_eq!(v.get("caller_id").as_deref(), Some("1001"));
        assert_eq!(v.get("dialled_number").as_deref(), Some("9999"));
        assert_eq!(v.get("account"), None);
        v.set("account", "42");
        v.set("digits", "7");
        assert_eq!(v.get("account").as_deref(), Some("42"));
        assert_eq!(v.digits, "7");
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["custom"]["account"], "42");
    }
}
