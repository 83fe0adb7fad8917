//! The extensions the server serves, from `[[users]]` in the config file.

use std::collections::HashMap;

use voip_sip::auth::{Credential, CredentialStore};

/// One extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The extension number or name (the SIP user part).
    pub extension: String,
    /// The digest password.
    pub password: String,
    /// Shown to callees.
    pub display_name: Option<String>,
}

/// All extensions, by user part.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    users: HashMap<String, User>,
}

impl Directory {
    /// A directory of `users`.
    pub fn new(users: impl IntoIterator<Item = User>) -> Self {
        Self {
            users: users
                .into_iter()
                .map(|u| (u.extension.clone(), u))
                .collect(),
        }
    }

    /// The user with this extension.
    pub fn get(&self, extension: &str) -> Option<&User> {
        self.users.get(extension)
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

impl CredentialStore for Directory {
    fn lookup(&self, _realm: &str, username: &str) -> Option<Credential> {
        self.users
            .get(username)
            .map(|u| Credential::Password(u.password.clone()))
    }
}
