//! Loading menus: the [`MenuStore`] trait, an in-memory store and the seed's
//! default menu.

use std::sync::RwLock;

use super::{Action, Menu, MenuError, MenuOption, MenuOptionRow, MenuSet, Target};

/// Where menus come from (a database, a file, memory).
///
/// Synchronous and small on purpose: the driver loads menus when a call
/// starts (or at start-up and on change), never from inside the IVR machine.
pub trait MenuStore: Send + Sync {
    /// Every menu with its options.
    fn menus(&self) -> Result<Vec<Menu>, MenuError>;

    /// Every menu, validated into a [`MenuSet`].
    fn menu_set(&self) -> Result<MenuSet, MenuError> {
        MenuSet::new(self.menus()?)
    }
}

impl<F> MenuStore for F
where
    F: Fn() -> Result<Vec<Menu>, MenuError> + Send + Sync,
{
    fn menus(&self) -> Result<Vec<Menu>, MenuError> {
        self()
    }
}

/// The seed's default menu: "main", keys 1 (sales), 2 (support), 0 (repeat).
pub fn seed_menus() -> Vec<Menu> {
    vec![
        Menu::new(
            "main",
            "Main Menu",
            "Welcome to our service. Press 1 for sales, 2 for support, \
             or 0 to hear these options again.",
        )
        .option(
            MenuOption::new("1", Action::Transfer(Target::Group("sales".into())))
                .say("Transferring to sales"),
        )
        .option(
            MenuOption::new("2", Action::Transfer(Target::Group("support".into())))
                .say("Transferring to support"),
        )
        .option(MenuOption::new("0", Action::Repeat)),
    ]
}

/// Joins `ivr_menus` rows (menus whose `options` may be empty) with
/// `ivr_menu_options` rows by `menu_id`, in row order.
pub fn assemble(
    menus: Vec<Menu>,
    options: impl IntoIterator<Item = MenuOptionRow>,
) -> Result<Vec<Menu>, MenuError> {
    let mut menus = menus;
    for row in options {
        let menu_id = row.menu_id.clone();
        let option = MenuOption::try_from(row).map_err(MenuError::BadRow)?;
        let menu = menus
            .iter_mut()
            .find(|m| m.menu_id == menu_id)
            .ok_or_else(|| MenuError::BadRow(format!("option for unknown menu `{menu_id}`")))?;
        menu.options.push(option);
    }
    Ok(menus)
}

/// Menus held in memory; the default store of the reference server.
#[derive(Debug, Default)]
pub struct InMemoryMenuStore {
    menus: RwLock<Vec<Menu>>,
}

impl InMemoryMenuStore {
    /// A store holding `menus` (validated).
    pub fn new(menus: Vec<Menu>) -> Result<Self, MenuError> {
        MenuSet::new(menus.clone())?;
        Ok(InMemoryMenuStore {
            menus: RwLock::new(menus),
        })
    }

    /// A store holding the seed's default menu.
    pub fn seed() -> Self {
        InMemoryMenuStore {
            menus: RwLock::new(seed_menus()),
        }
    }

    /// A store read from JSON: an array of menus (options nested).
    pub fn from_json(json: &str) -> Result<Self, MenuError> {
        let menus: Vec<Menu> =
            serde_json::from_str(json).map_err(|e| MenuError::Store(e.to_string()))?;
        Self::new(menus)
    }

    /// Adds or replaces a menu; refused (and nothing changes) when the
    /// resulting set does not validate.
    pub fn upsert(&self, menu: Menu) -> Result<(), MenuError> {
        let mut guard = self
            .menus
            .write()
            .map_err(|_| MenuError::Store("lock poisoned".into()))?;
        let mut next: Vec<Menu> = guard
            .iter()
            .filter(|m| m.menu_id != menu.menu_id)
            .cloned()
            .collect();
        next.push(menu);
        MenuSet::new(next.clone())?;
        *guard = next;
        Ok(())
    }
}

impl MenuStore for InMemoryMenuStore {
    fn menus(&self) -> Result<Vec<Menu>, MenuError> {
        self.menus
            .read()
            .map(|m| m.clone())
            .map_err(|_| MenuError::Store("lock poisoned".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::Prompt;

    #[test]
    fn seed_menu_matches_the_seed() {
        let set = InMemoryMenuStore::seed().menu_set().unwrap();
        let main = set.get("main").unwrap();
        assert_eq!(
            main.welcome_message,
            "Welcome to our service. Press 1 for sales, 2 for support, or 0 to hear these options again."
        );
        let one = main.find("1").unwrap();
        assert_eq!(one.say, Some(Prompt::tts("Transferring to sales")));
        assert_eq!(one.action, Action::Transfer(Target::Group("sales".into())));
        let two = main.find("2").unwrap();
        assert_eq!(two.say, Some(Prompt::tts("Transferring to support")));
        assert_eq!(
            two.action,
            Action::Transfer(Target::Group("support".into()))
        );
        assert_eq!(main.find("0").unwrap().action, Action::Repeat);
    }

    #[test]
    fn assemble_rows() {
        let menus: Vec<Menu> = serde_json::from_str(
            r#"[{"menu_id":"main","name":"Main","welcome_message":"Hi"},
                {"menu_id":"billing","name":"Billing","welcome_message":"Billing"}]"#,
        )
        .unwrap();
        let rows: Vec<MenuOptionRow> = serde_json::from_str(
            r#"[{"menu_id":"main","digit":"3","action_type":"menu","action_value":"billing"},
                {"menu_id":"billing","digit":"*","action_type":"back","action_value":""}]"#,
        )
        .unwrap();
        let menus = assemble(menus, rows).unwrap();
        let set = MenuSet::new(menus).unwrap();
        assert_eq!(
            set.get("main").unwrap().find("3").unwrap().action,
            Action::Submenu("billing".into())
        );
        assert_eq!(
            set.get("billing").unwrap().find("*").unwrap().action,
            Action::Back
        );

        let orphan = MenuOptionRow {
            menu_id: "nope".into(),
            digit: "1".into(),
            action_type: "hangup".into(),
            action_value: String::new(),
            say: None,
        };
        assert!(assemble(seed_menus(), [orphan]).is_err());
    }

    #[test]
    fn in_memory_store_upsert_and_json() {
        let store = InMemoryMenuStore::seed();
        let bad =
            Menu::new("x", "X", "x").option(MenuOption::new("1", Action::Submenu("y".into())));
        assert!(store.upsert(bad).is_err());
        assert_eq!(store.menus().unwrap().len(), 1);
        store.upsert(Menu::new("y", "Y", "y")).unwrap();
        assert_eq!(store.menu_set().unwrap().len(), 2);

        let json = serde_json::to_string(&store.menus().unwrap()).unwrap();
        let again = InMemoryMenuStore::from_json(&json).unwrap();
        assert_eq!(again.menus().unwrap(), store.menus().unwrap());
        assert!(InMemoryMenuStore::from_json("{").is_err());

        let closure = || Ok(seed_menus());
        assert_eq!(closure.menu_set().unwrap().len(), 1);
    }
}
