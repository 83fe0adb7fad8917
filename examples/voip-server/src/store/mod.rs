//! Persistent state: CDRs (`call_logs`), live calls (`active_calls`),
//! agents and IVR menus, in SQLite (the embedded default, a file in the data
//! directory) or PostgreSQL (`--db-url postgres://...`). Both run the same
//! schema from `migrations/` at start-up. The CDR writer sees the store
//! through the [`CallStore`] trait, so an application can put its own there.
//!
//! Queries are written once with `$1, $2, ...` placeholders in ascending
//! order, which both SQLite and PostgreSQL accept.

pub mod call_store;
pub mod cdr;
pub mod time;

pub use call_store::CallStore;

use std::path::Path;
use std::time::{Duration, SystemTime};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::sip::calls::{CallEvent, Outcome};
use time::{parse_rfc3339, rfc3339};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or migrated (a start-up error).
    #[error("cannot open database {url}: {reason} ({hint})")]
    Open {
        /// The URL or file, password removed.
        url: String,
        /// What the driver said.
        reason: String,
        /// How to fix it.
        hint: &'static str,
    },
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// A row holds a value the server cannot use (names the row).
    #[error("bad database row: {0}")]
    BadRow(String),
}

/// The database.
#[derive(Debug, Clone)]
pub enum Store {
    /// SQLite, the embedded default.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// Runs one statement on whichever database the store is, binding the
/// same arguments; evaluates to the number of rows affected.
macro_rules! execute {
    ($store:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $store {
            Store::Sqlite(pool) => sqlx::query($sql)$(.bind($arg))*.execute(pool).await.map(|r| r.rows_affected()),
            Store::Postgres(pool) => sqlx::query($sql)$(.bind($arg))*.execute(pool).await.map(|r| r.rows_affected()),
        }
    };
}

/// Fetches at most one row as a tuple type on either database.
macro_rules! fetch_optional {
    ($store:expr, $ty:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $store {
            Store::Sqlite(pool) => sqlx::query_as::<_, $ty>($sql)$(.bind($arg))*.fetch_optional(pool).await,
            Store::Postgres(pool) => sqlx::query_as::<_, $ty>($sql)$(.bind($arg))*.fetch_optional(pool).await,
        }
    };
}

/// Fetches every row as a tuple type on either database.
macro_rules! fetch_all {
    ($store:expr, $ty:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $store {
            Store::Sqlite(pool) => sqlx::query_as::<_, $ty>($sql)$(.bind($arg))*.fetch_all(pool).await,
            Store::Postgres(pool) => sqlx::query_as::<_, $ty>($sql)$(.bind($arg))*.fetch_all(pool).await,
        }
    };
}

/// One `call_logs` row, as the status page and tests read it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct CallLog {
    /// The Call-ID.
    pub call_id: String,
    /// The caller.
    pub from_number: String,
    /// The callee.
    pub to_number: String,
    /// ringing, answered, completed, missed, busy, failed or interrupted.
    pub status: String,
    /// When the call started (RFC 3339).
    pub start_time: String,
    /// When it was answered.
    pub answer_time: Option<String>,
    /// When it ended.
    pub end_time: Option<String>,
    /// Seconds from answer to end.
    pub duration: Option<i64>,
    /// Why it ended.
    pub hangup_cause: Option<String>,
    /// The codec (`caller|callee` when transcoded), for relayed calls.
    pub codec: Option<String>,
    /// E-model MOS of what the caller sent.
    pub caller_mos: Option<f64>,
    /// E-model MOS of what the callee sent.
    pub callee_mos: Option<f64>,
    /// The recording (`/recordings/<file>.wav` on the HTTP port), when the
    /// call was recorded.
    pub recording_url: Option<String>,
}

impl Store {
    /// Opens `url` (`sqlite://FILE`, `postgres://...`), or the SQLite file
    /// `voip.db` in `data_dir` when `url` is `None`, and brings the schema
    /// up to date.
    pub async fn open(url: Option<&str>, data_dir: &Path) -> Result<Self, StoreError> {
        match url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Self::open_postgres(url).await
            }
            Some(url) if url.starts_with("sqlite:") => {
                let path = url
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:");
                Self::open_sqlite(Path::new(path)).await
            }
            Some(url) => Err(StoreError::Open {
                url: redact(url),
                reason: "unknown database kind".into(),
                hint: "use postgres://USER:PASSWORD@HOST:PORT/DB or sqlite://FILE",
            }),
            None => Self::open_sqlite(&data_dir.join("voip.db")).await,
        }
    }

    async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        let fail = |e: &dyn std::fmt::Display| StoreError::Open {
            url: format!("sqlite://{}", path.display()),
            reason: e.to_string(),
            hint: "check that the data dir is writable, or pick another file with --db-url sqlite://FILE",
        };
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            // WAL + synchronous=FULL: a committed CDR survives SIGKILL and power loss
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| fail(&e))?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| fail(&e))?;
        Ok(Self::Sqlite(pool))
    }

    async fn open_postgres(url: &str) -> Result<Self, StoreError> {
        let fail = |e: &dyn std::fmt::Display| StoreError::Open {
            url: redact(url),
            reason: e.to_string(),
            hint: "check that PostgreSQL runs and the URL's user, password and database are right",
        };
        let options: PgConnectOptions = url.parse().map_err(|e| fail(&e))?;
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|e| fail(&e))?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| fail(&e))?;
        Ok(Self::Postgres(pool))
    }

    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Records one call event written by server run `run`. Idempotent: a
    /// repeated event changes nothing, so the writer may retry freely.
    pub async fn record(&self, run: &str, event: &CallEvent) -> Result<(), StoreError> {
        match event {
            CallEvent::Started {
                call_id,
                from,
                to,
                at,
            } => {
                let at = rfc3339(*at);
                execute!(
                    self,
                    "INSERT INTO call_logs (call_id, from_number, to_number, status, start_time, node_run, updated_at) \
                     VALUES ($1, $2, $3, 'ringing', $4, $5, $4) ON CONFLICT (call_id) DO NOTHING",
                    call_id.clone(),
                    from.clone(),
                    to.clone(),
                    at.clone(),
                    run.to_owned()
                )?;
                execute!(
                    self,
                    "INSERT INTO active_calls (call_id, from_number, to_number, status, started_at) \
                     VALUES ($1, $2, $3, 'ringing', $4) ON CONFLICT (call_id) DO NOTHING",
                    call_id.clone(),
                    from.clone(),
                    to.clone(),
                    at.clone()
                )?;
            }
            CallEvent::Answered { call_id, at } => {
                let at = rfc3339(*at);
                execute!(
                    self,
                    "UPDATE call_logs SET status = 'answered', answer_time = $2, updated_at = $2, node_run = $3 \
                     WHERE call_id = $1 AND end_time IS NULL AND answer_time IS NULL",
                    call_id.clone(),
                    at.clone(),
                    run.to_owned()
                )?;
                execute!(
                    self,
                    "UPDATE active_calls SET status = 'answered' WHERE call_id = $1",
                    call_id.clone()
                )?;
            }
            CallEvent::Media {
                call_id,
                codec,
                legs,
                recording,
            } => {
                let [caller, callee] = legs;
                execute!(
                    self,
                    "UPDATE call_logs SET codec = $2, caller_mos = $3, caller_jitter_ms = $4, \
                     caller_loss_pct = $5, callee_mos = $6, callee_jitter_ms = $7, callee_loss_pct = $8, \
                     recording_url = COALESCE($9, recording_url) WHERE call_id = $1",
                    call_id.clone(),
                    codec.clone(),
                    caller.mos,
                    caller.jitter_ms,
                    caller.loss_pct,
                    callee.mos,
                    callee.jitter_ms,
                    callee.loss_pct,
                    recording.clone()
                )?;
            }
            CallEvent::Ended {
                call_id,
                outcome,
                cause,
                at,
            } => {
                let answered: Option<(Option<String>,)> = fetch_optional!(
                    self,
                    (Option<String>,),
                    "SELECT answer_time FROM call_logs WHERE call_id = $1 AND end_time IS NULL",
                    call_id.clone()
                )?;
                let Some((answer_time,)) = answered else {
                    // never started here, or already ended: nothing to do
                    return self.forget_active(call_id).await;
                };
                let answered_at = answer_time.as_deref().and_then(parse_rfc3339);
                let (status, duration) = match answered_at {
                    Some(a) => (
                        Outcome::Completed,
                        at.duration_since(a).unwrap_or_default().as_secs() as i64,
                    ),
                    None if *outcome == Outcome::Completed => (Outcome::Missed, 0),
                    None => (*outcome, 0),
                };
                execute!(
                    self,
                    "UPDATE call_logs SET status = $2, end_time = $3, duration = $4, hangup_cause = $5, \
                     updated_at = $3, node_run = $6 WHERE call_id = $1 AND end_time IS NULL",
                    call_id.clone(),
                    status.as_str(),
                    rfc3339(*at),
                    duration,
                    cause.clone(),
                    run.to_owned()
                )?;
                self.forget_active(call_id).await?;
            }
        }
        Ok(())
    }

    async fn forget_active(&self, call_id: &str) -> Result<(), StoreError> {
        execute!(
            self,
            "DELETE FROM active_calls WHERE call_id = $1",
            call_id.to_owned()
        )?;
        Ok(())
    }

    /// After a restart: calls that were still ringing when an earlier run
    /// stopped can no longer be answered through us; they end as
    /// `interrupted` at `now`. Answered calls stay open: their BYE still
    /// routes through us (Record-Route) and completes the row.
    pub async fn reconcile_startup(&self, run: &str, now: SystemTime) -> Result<u64, StoreError> {
        let now = rfc3339(now);
        let ended = execute!(
            self,
            "UPDATE call_logs SET status = 'interrupted', end_time = $1, duration = 0, \
             hangup_cause = 'server restarted before answer', updated_at = $1 \
             WHERE end_time IS NULL AND answer_time IS NULL AND node_run <> $2",
            now.clone(),
            run.to_owned()
        )?;
        execute!(
            self,
            "DELETE FROM active_calls WHERE call_id IN (SELECT call_id FROM call_logs WHERE end_time IS NOT NULL)"
        )?;
        Ok(ended)
    }

    /// Answered calls with no event since `older_than` (no BYE ever came,
    /// e.g. both phones lost power) end as `interrupted` at their last event.
    pub async fn reconcile_stale(&self, older_than: SystemTime) -> Result<u64, StoreError> {
        let stale: Vec<(String, String, String)> = fetch_all!(
            self,
            (String, String, String),
            "SELECT call_id, answer_time, updated_at FROM call_logs \
             WHERE end_time IS NULL AND answer_time IS NOT NULL AND updated_at < $1",
            rfc3339(older_than)
        )?;
        let mut ended = 0;
        for (call_id, answer_time, updated_at) in stale {
            let duration = match (parse_rfc3339(&updated_at), parse_rfc3339(&answer_time)) {
                (Some(u), Some(a)) => u.duration_since(a).unwrap_or_default().as_secs() as i64,
                _ => 0,
            };
            ended += execute!(
                self,
                "UPDATE call_logs SET status = 'interrupted', end_time = updated_at, duration = $2, \
                 hangup_cause = 'no BYE seen' WHERE call_id = $1 AND end_time IS NULL",
                call_id.clone(),
                duration
            )?;
            self.forget_active(&call_id).await?;
        }
        Ok(ended)
    }

    /// The most recent calls, newest first.
    pub async fn recent_calls(&self, limit: i64) -> Result<Vec<CallLog>, StoreError> {
        const SQL: &str = "SELECT call_id, from_number, to_number, status, start_time, answer_time, \
                           end_time, duration, hangup_cause, codec, caller_mos, callee_mos, recording_url FROM call_logs \
                           ORDER BY start_time DESC, id DESC LIMIT $1";
        Ok(match self {
            Self::Sqlite(pool) => {
                sqlx::query_as::<_, CallLog>(SQL)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
            }
            Self::Postgres(pool) => {
                sqlx::query_as::<_, CallLog>(SQL)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
            }
        })
    }

    /// Inserts or updates an `agents` row (the IVR keeps it current).
    pub async fn upsert_agent(&self, row: &crate::ivr::AgentRow) -> Result<(), StoreError> {
        execute!(
            self,
            "INSERT INTO agents (extension, name, status, current_calls, total_calls, last_call_end) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (extension) DO UPDATE SET \
             name = excluded.name, status = excluded.status, current_calls = excluded.current_calls, \
             total_calls = excluded.total_calls, \
             last_call_end = COALESCE(excluded.last_call_end, agents.last_call_end)",
            row.extension.clone(),
            row.name.clone(),
            row.status.clone(),
            row.current_calls,
            row.total_calls,
            row.last_call_end.map(rfc3339)
        )?;
        Ok(())
    }

    /// Every `agents` row: (extension, status, current_calls, total_calls).
    pub async fn agents(&self) -> Result<Vec<(String, String, i64, i64)>, StoreError> {
        Ok(fetch_all!(
            self,
            (String, String, i64, i64),
            "SELECT extension, status, current_calls, total_calls FROM agents ORDER BY extension"
        )?)
    }

    /// Number of rows in `active_calls`.
    pub async fn active_calls(&self) -> Result<i64, StoreError> {
        let row: Option<(i64,)> =
            fetch_optional!(self, (i64,), "SELECT COUNT(*) FROM active_calls")?;
        Ok(row.map_or(0, |r| r.0))
    }
}

/// `postgres://user:secret@host/db` without the secret.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

// after the macros, which it uses
pub mod menus;

#[cfg(test)]
mod tests;
