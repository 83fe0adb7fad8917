//! The IVR's menus come from the database (`ivr_menus`, `ivr_menu_options`):
//! the seed's menu is written at the first start, the tables are read at
//! start-up and again every few seconds, so an operator's edit takes
//! effect for the next call without a restart. A broken edit is logged and
//! the last good menus stay in use.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use voip_ivr::menu::seed_menus;
use voip_ivr::tts::TtsCache;
use voip_ivr::{Menu, MenuSet};

use crate::error::Error;
use crate::store::Store;

/// Loads the menus at start-up: writes the seed's menu into an empty
/// database, reads the tables and checks that `start` exists.
pub async fn load(store: &Store, start: &str) -> Result<(Vec<Menu>, MenuSet), Error> {
    let seeded = store
        .seed_ivr_menus(&seed_menus())
        .await
        .map_err(|e| Error::Config(format!("cannot write the default IVR menu: {e}")))?;
    if seeded {
        tracing::info!("ivr_menus was empty: wrote the default menu \"main\"");
    }
    let menus = store
        .ivr_menus()
        .await
        .map_err(|e| Error::Config(format!("cannot read the IVR menus: {e} (fix the row)")))?;
    let set = validate(menus.clone(), start).map_err(Error::Config)?;
    Ok((menus, set))
}

/// Validates `menus` and checks that the start menu exists.
fn validate(menus: Vec<Menu>, start: &str) -> Result<MenuSet, String> {
    let set = MenuSet::new(menus).map_err(|e| format!("the IVR menus are invalid: {e}"))?;
    if !set.contains(start) {
        let known: Vec<&str> = set.iter().map(|m| m.menu_id.as_str()).collect();
        return Err(format!(
            "[ivr] menu {start:?} is not in ivr_menus (menus: {}); set [ivr] menu or add the row",
            known.join(", ")
        ));
    }
    Ok(set)
}

/// Re-reads the tables every `every`; publishes a changed, valid set on
/// `tx` and renders its prompts ahead.
pub fn spawn_reload(
    store: Store,
    start: String,
    mut current: Vec<Menu>,
    every: Duration,
    tts: Arc<TtsCache>,
    tx: watch::Sender<Arc<MenuSet>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            if tx.is_closed() {
                return;
            }
            let menus = match store.ivr_menus().await {
                Ok(menus) => menus,
                Err(error) => {
                    tracing::warn!(%error, "ivr menus not reloaded; the last good menus stay");
                    continue;
                }
            };
            if menus == current {
                continue;
            }
            match validate(menus.clone(), &start) {
                Ok(set) => {
                    tracing::info!(menus = set.len(), "ivr menus changed; reloaded");
                    current = menus;
                    let set = Arc::new(set);
                    prerender(tts.clone(), set.clone());
                    let _ = tx.send(set);
                }
                Err(error) => {
                    tracing::warn!(%error, "ivr menus not reloaded; the last good menus stay");
                    current = menus;
                }
            }
        }
    })
}

/// Renders every prompt of `menus` at 8 kHz on a blocking thread.
pub fn prerender(tts: Arc<TtsCache>, menus: Arc<MenuSet>) {
    tokio::task::spawn_blocking(move || {
        let report = tts.prerender(&menus, Some(8000));
        for (text, error) in &report.failed {
            tracing::warn!(%text, %error, "ivr prompt not pre-rendered");
        }
        tracing::info!(
            rendered = report.rendered,
            cached = report.cached,
            "ivr prompts ready"
        );
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_menu_must_exist() {
        assert!(validate(seed_menus(), "main").is_ok());
        let error = validate(seed_menus(), "sales").unwrap_err();
        assert!(
            error.contains("\"sales\"") && error.contains("main"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn seeded_menus_read_back_equal() {
        let dir = std::env::temp_dir().join(format!("voip-menus-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(None, &dir).await.unwrap();
        let (menus, set) = load(&store, "main").await.unwrap();
        // rows come back ordered by digit
        let mut expected = seed_menus();
        expected[0].options.sort_by(|a, b| a.digit.cmp(&b.digit));
        assert_eq!(menus, expected);
        assert!(set.contains("main"));
        // the second start keeps what is there
        assert!(!store.seed_ivr_menus(&seed_menus()).await.unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
