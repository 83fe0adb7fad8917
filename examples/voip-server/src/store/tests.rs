//! The store against a real SQLite file (PostgreSQL: tests/tests/cdr.rs).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_790_000_000 + secs)
}

fn started(id: &str, t: u64) -> CallEvent {
    CallEvent::Started {
        call_id: id.into(),
        from: "1001".into(),
        to: "1002".into(),
        at: at(t),
    }
}

fn ended(id: &str, outcome: Outcome, cause: &str, t: u64) -> CallEvent {
    CallEvent::Ended {
        call_id: id.into(),
        outcome,
        cause: cause.into(),
        at: at(t),
    }
}

async fn temp_store() -> (Store, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "voip-store-test-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    (Store::open(None, &dir).await.unwrap(), dir)
}

#[tokio::test]
async fn a_call_goes_from_ringing_to_completed_once() {
    let (store, dir) = temp_store().await;
    store.record("run1", &started("c1", 0)).await.unwrap();
    assert_eq!(store.active_calls().await.unwrap(), 1);
    store
        .record(
            "run1",
            &CallEvent::Answered {
                call_id: "c1".into(),
                at: at(5),
            },
        )
        .await
        .unwrap();
    let bye = ended("c1", Outcome::Completed, "BYE", 65);
    store.record("run1", &bye).await.unwrap();
    // retried events change nothing
    store.record("run1", &started("c1", 0)).await.unwrap();
    store.record("run1", &bye).await.unwrap();
    let calls = store.recent_calls(10).await.unwrap();
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(c.status, "completed");
    assert_eq!(c.duration, Some(60));
    assert_eq!(c.hangup_cause.as_deref(), Some("BYE"));
    assert_eq!(c.from_number, "1001");
    assert_eq!(store.active_calls().await.unwrap(), 0);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn unanswered_calls_keep_their_outcome() {
    let (store, dir) = temp_store().await;
    store.record("r", &started("busy", 0)).await.unwrap();
    store
        .record("r", &ended("busy", Outcome::Busy, "486 Busy Here", 3))
        .await
        .unwrap();
    let c = &store.recent_calls(1).await.unwrap()[0];
    assert_eq!((c.status.as_str(), c.duration), ("busy", Some(0)));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn restart_reconciles_ringing_calls_and_keeps_answered_ones_open() {
    let (store, dir) = temp_store().await;
    store.record("old", &started("ringing", 0)).await.unwrap();
    store.record("old", &started("talking", 0)).await.unwrap();
    store
        .record(
            "old",
            &CallEvent::Answered {
                call_id: "talking".into(),
                at: at(2),
            },
        )
        .await
        .unwrap();
    drop(store);
    // the server was killed; a new run opens the same file
    let store = Store::open(None, &dir).await.unwrap();
    assert_eq!(store.reconcile_startup("new", at(100)).await.unwrap(), 1);
    // the BYE of the surviving call arrives in the new run
    store
        .record("new", &ended("talking", Outcome::Completed, "BYE", 302))
        .await
        .unwrap();
    let calls = store.recent_calls(10).await.unwrap();
    let by_id = |id: &str| calls.iter().find(|c| c.call_id == id).unwrap().clone();
    assert_eq!(by_id("ringing").status, "interrupted");
    assert_eq!(by_id("talking").status, "completed");
    assert_eq!(by_id("talking").duration, Some(300));
    assert_eq!(store.active_calls().await.unwrap(), 0);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn stale_answered_calls_are_closed() {
    let (store, dir) = temp_store().await;
    store.record("r", &started("lost", 0)).await.unwrap();
    store
        .record(
            "r",
            &CallEvent::Answered {
                call_id: "lost".into(),
                at: at(10),
            },
        )
        .await
        .unwrap();
    assert_eq!(store.reconcile_stale(at(5)).await.unwrap(), 0);
    assert_eq!(store.reconcile_stale(at(1000)).await.unwrap(), 1);
    let c = &store.recent_calls(1).await.unwrap()[0];
    assert_eq!(c.status, "interrupted");
    assert_eq!(c.end_time, c.answer_time);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn bad_urls_say_what_to_do() {
    let dir = std::env::temp_dir();
    let e = Store::open(Some("mysql://x"), &dir).await.unwrap_err();
    assert!(e.to_string().contains("use postgres://"), "{e}");
    assert_eq!(
        redact("postgres://voip:secret@127.0.0.1:5432/voip"),
        "postgres://voip:***@127.0.0.1:5432/voip"
    );
}

#[tokio::test]
async fn the_relays_measures_land_in_the_row() {
    use crate::sip::calls::LegQuality;
    let (store, dir) = temp_store().await;
    store.record("run1", &started("m1", 0)).await.unwrap();
    let media = CallEvent::Media {
        call_id: "m1".into(),
        codec: Some("opus|PCMU".into()),
        legs: [
            LegQuality {
                mos: Some(4.3),
                jitter_ms: 1.5,
                loss_pct: 0.0,
            },
            LegQuality {
                mos: None,
                jitter_ms: 0.0,
                loss_pct: 2.5,
            },
        ],
        recording: Some("/recordings/m1.wav".into()),
    };
    store.record("run1", &media).await.unwrap();
    store
        .record("run1", &ended("m1", Outcome::Completed, "BYE", 30))
        .await
        .unwrap();
    let row = &store.recent_calls(1).await.unwrap()[0];
    assert_eq!(row.codec.as_deref(), Some("opus|PCMU"));
    assert_eq!(row.caller_mos, Some(4.3));
    assert_eq!(row.callee_mos, None);
    assert_eq!(row.recording_url.as_deref(), Some("/recordings/m1.wav"));
    let Store::Sqlite(pool) = &store else {
        unreachable!()
    };
    let (jitter, loss): (f64, f64) = sqlx::query_as(
        "SELECT caller_jitter_ms, callee_loss_pct FROM call_logs WHERE call_id = 'm1'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!((jitter, loss), (1.5, 2.5));
    let _ = std::fs::remove_dir_all(dir);
}
