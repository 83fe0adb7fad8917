//! IVR menus in `ivr_menus` and `ivr_menu_options` (the seed's tables,
//! extended by migration 0002): read them into [`Menu`]s, and write the
//! seed's menu into an empty database at the first start.
//!
//! Prompt columns hold words to speak, or `file:PATH` for a WAV file.

use voip_ivr::{Action, Menu, MenuOption, Prompt};

use super::{Store, StoreError};

/// One `ivr_menus` row.
type MenuRow = (
    String,         // menu_id
    String,         // name
    String,         // welcome_message
    i64,            // timeout_ms
    i64,            // inter_digit_ms
    i64,            // max_failures
    i64,            // max_timeouts
    i64,            // digit_len
    Option<String>, // terminator
    Option<String>, // invalid_message
    Option<String>, // exit_message
    Option<String>, // greeting
    i64,            // barge_in
    Option<String>, // exit_action_type
    Option<String>, // exit_action_value
);

/// One `ivr_menu_options` row: menu_id, digit, action_type, action_value, say_message.
type OptionRow = (String, String, String, Option<String>, Option<String>);

const SELECT_MENUS: &str = "SELECT menu_id, name, welcome_message, timeout_ms, inter_digit_ms, \
     max_failures, max_timeouts, digit_len, terminator, invalid_message, exit_message, \
     greeting, barge_in, exit_action_type, exit_action_value FROM ivr_menus ORDER BY menu_id";

const SELECT_OPTIONS: &str = "SELECT menu_id, digit, action_type, action_value, say_message \
     FROM ivr_menu_options ORDER BY menu_id, digit";

/// A prompt column's value: `file:PATH` is a file, anything else is spoken.
pub fn prompt_from_column(text: &str) -> Prompt {
    match text.strip_prefix("file:") {
        Some(path) => Prompt::file(path.trim()),
        None => Prompt::tts(text),
    }
}

/// The column form of a prompt (the inverse of [`prompt_from_column`]).
pub fn prompt_to_column(prompt: &Prompt) -> String {
    match prompt {
        Prompt::File { file } => format!("file:{file}"),
        other => other.text().unwrap_or_default().to_owned(),
    }
}

/// Why a row cannot become a menu, naming the row.
fn bad_row(menu_id: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::BadRow(format!("ivr_menus {menu_id:?}: {what}"))
}

fn count(menu_id: &str, column: &str, value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| bad_row(menu_id, format!("{column} = {value} is negative")))
}

fn menu_from_row(row: MenuRow) -> Result<Menu, StoreError> {
    let (id, name, welcome, timeout, inter_digit, failures, timeouts, digit_len, terminator) = (
        row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8,
    );
    let millis = |column: &str, value: i64| {
        u64::try_from(value).map_err(|_| bad_row(&id, format!("{column} = {value} is negative")))
    };
    let mut menu = Menu::new(id.clone(), name, welcome);
    menu.timeout_ms = millis("timeout_ms", timeout)?;
    menu.inter_digit_timeout_ms = millis("inter_digit_ms", inter_digit)?;
    menu.max_failures = count(&id, "max_failures", failures)?;
    menu.max_timeouts = count(&id, "max_timeouts", timeouts)?;
    menu.digit_len = count(&id, "digit_len", digit_len)? as usize;
    menu.terminator = match terminator.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(key) if key.chars().count() == 1 => key.chars().next(),
        Some(other) => return Err(bad_row(&id, format!("terminator {other:?} is not one key"))),
    };
    if let Some(text) = row.9.filter(|t| !t.trim().is_empty()) {
        menu.invalid_prompt = prompt_from_column(&text);
    }
    if let Some(text) = row.10.filter(|t| !t.trim().is_empty()) {
        menu.exit_prompt = prompt_from_column(&text);
    }
    menu.greeting = row
        .11
        .filter(|t| !t.trim().is_empty())
        .map(|t| prompt_from_column(&t));
    menu.barge_in = row.12 != 0;
    if let Some(kind) = row.13.filter(|t| !t.trim().is_empty()) {
        let value = row.14.unwrap_or_default();
        menu.on_exit = Action::from_row(&kind, &value).map_err(|e| bad_row(&id, e))?;
    }
    Ok(menu)
}

fn option_from_row(row: OptionRow) -> Result<(String, MenuOption), StoreError> {
    let (menu_id, digit, kind, value, say) = row;
    let action = Action::from_row(&kind, value.as_deref().unwrap_or_default()).map_err(|e| {
        StoreError::BadRow(format!("ivr_menu_options {menu_id:?} digit {digit:?}: {e}"))
    })?;
    let mut option = MenuOption::new(digit, action);
    option.say = say
        .filter(|t| !t.trim().is_empty())
        .map(|t| prompt_from_column(&t));
    Ok((menu_id, option))
}

/// Joins menus and options; an option of an unknown menu is an error.
fn assemble(menus: Vec<MenuRow>, options: Vec<OptionRow>) -> Result<Vec<Menu>, StoreError> {
    let mut menus = menus
        .into_iter()
        .map(menu_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    for row in options {
        let (menu_id, option) = option_from_row(row)?;
        let menu = menus
            .iter_mut()
            .find(|m| m.menu_id == menu_id)
            .ok_or_else(|| {
                StoreError::BadRow(format!("ivr_menu_options for unknown menu {menu_id:?}"))
            })?;
        menu.options.push(option);
    }
    Ok(menus)
}

impl Store {
    /// Every menu with its options, from `ivr_menus` and `ivr_menu_options`.
    pub async fn ivr_menus(&self) -> Result<Vec<Menu>, StoreError> {
        let menus = fetch_all!(self, MenuRow, SELECT_MENUS)?;
        let options = fetch_all!(self, OptionRow, SELECT_OPTIONS)?;
        assemble(menus, options)
    }

    /// Writes `menus` when `ivr_menus` is empty (the first start), so the
    /// database holds the menus an operator edits. Returns whether it wrote.
    pub async fn seed_ivr_menus(&self, menus: &[Menu]) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = fetch_optional!(self, (i64,), "SELECT COUNT(*) FROM ivr_menus")?;
        if row.is_some_and(|r| r.0 > 0) {
            return Ok(false);
        }
        for menu in menus {
            let (exit_type, exit_value) = menu.on_exit.to_row();
            execute!(
                self,
                "INSERT INTO ivr_menus (menu_id, name, welcome_message, timeout_ms, inter_digit_ms, \
                 max_failures, max_timeouts, digit_len, terminator, invalid_message, exit_message, \
                 greeting, barge_in, exit_action_type, exit_action_value) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
                 ON CONFLICT (menu_id) DO NOTHING",
                menu.menu_id.clone(),
                menu.name.clone(),
                menu.welcome_message.clone(),
                i64::try_from(menu.timeout_ms).unwrap_or(i64::MAX),
                i64::try_from(menu.inter_digit_timeout_ms).unwrap_or(i64::MAX),
                i64::from(menu.max_failures),
                i64::from(menu.max_timeouts),
                i64::try_from(menu.digit_len).unwrap_or(i64::MAX),
                menu.terminator.map(String::from),
                Some(prompt_to_column(&menu.invalid_prompt)),
                Some(prompt_to_column(&menu.exit_prompt)),
                menu.greeting.as_ref().map(prompt_to_column),
                i64::from(menu.barge_in),
                Some(exit_type.to_owned()),
                Some(exit_value).filter(|v| !v.is_empty()),
            )?;
            for option in &menu.options {
                let (kind, value) = option.action.to_row();
                execute!(
                    self,
                    "INSERT INTO ivr_menu_options (menu_id, digit, action_type, action_value, say_message) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (menu_id, digit) DO NOTHING",
                    menu.menu_id.clone(),
                    option.digit.clone(),
                    kind.to_owned(),
                    Some(value).filter(|v| !v.is_empty()),
                    option.say.as_ref().map(prompt_to_column),
                )?;
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_columns_round_trip() {
        assert_eq!(prompt_from_column("Hello"), Prompt::tts("Hello"));
        assert_eq!(
            prompt_from_column("file:/srv/hold.wav"),
            Prompt::file("/srv/hold.wav")
        );
        for prompt in [Prompt::tts("Hi there"), Prompt::file("/a/b.wav")] {
            assert_eq!(prompt_from_column(&prompt_to_column(&prompt)), prompt);
        }
    }

    #[test]
    fn bad_rows_name_the_row() {
        let menu: MenuRow = (
            "main".into(),
            "Main".into(),
            "Hi".into(),
            -1,
            0,
            0,
            0,
            1,
            None,
            None,
            None,
            None,
            1,
            None,
            None,
        );
        let error = assemble(vec![menu], Vec::new()).unwrap_err().to_string();
        assert!(
            error.contains("\"main\"") && error.contains("timeout_ms"),
            "{error}"
        );
        let option: OptionRow = ("nope".into(), "1".into(), "hangup".into(), None, None);
        let error = assemble(Vec::new(), vec![option]).unwrap_err().to_string();
        assert!(error.contains("unknown menu"), "{error}");
        let option: OptionRow = ("main".into(), "1".into(), "dance".into(), None, None);
        let error = option_from_row(option).unwrap_err().to_string();
        assert!(
            error.contains("dance") && error.contains("digit \"1\""),
            "{error}"
        );
    }
}
