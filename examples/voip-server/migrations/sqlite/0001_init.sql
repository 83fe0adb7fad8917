-- The seed's tables (call_logs, active_calls, agents, ivr_menus,
-- ivr_menu_options), extended. Times are RFC 3339 UTC text
-- (2026-11-25T18:45:00.123Z): sortable and readable in any client.

CREATE TABLE call_logs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id          TEXT NOT NULL UNIQUE,
    from_number      TEXT NOT NULL,
    to_number        TEXT NOT NULL,
    -- ringing, answered, completed, missed, busy, failed, interrupted
    status           TEXT NOT NULL,
    start_time       TEXT NOT NULL,
    answer_time      TEXT,
    end_time         TEXT,
    -- seconds from answer to end; 0 for unanswered calls
    duration         INTEGER,
    hangup_cause     TEXT,
    codec            TEXT,
    caller_mos       REAL,
    caller_jitter_ms REAL,
    caller_loss_pct  REAL,
    callee_mos       REAL,
    callee_jitter_ms REAL,
    callee_loss_pct  REAL,
    recording_url    TEXT,
    -- the server run that last wrote the row (reconciliation after a crash)
    node_run         TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX call_logs_open ON call_logs (end_time, node_run);
CREATE INDEX call_logs_start ON call_logs (start_time);

CREATE TABLE active_calls (
    call_id         TEXT PRIMARY KEY,
    from_number     TEXT NOT NULL,
    to_number       TEXT NOT NULL,
    agent_extension TEXT,
    status          TEXT NOT NULL,
    started_at      TEXT NOT NULL
);

CREATE TABLE agents (
    extension     TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    email         TEXT,
    -- online, offline, busy
    status        TEXT NOT NULL DEFAULT 'offline',
    current_calls INTEGER NOT NULL DEFAULT 0,
    total_calls   INTEGER NOT NULL DEFAULT 0,
    last_call_end TEXT
);

CREATE TABLE ivr_menus (
    menu_id             TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    welcome_message     TEXT NOT NULL,
    -- FreeSWITCH-style menu settings (milliseconds, counts, prompts)
    timeout_ms          INTEGER NOT NULL DEFAULT 5000,
    inter_digit_ms      INTEGER NOT NULL DEFAULT 2000,
    max_failures        INTEGER NOT NULL DEFAULT 3,
    max_timeouts        INTEGER NOT NULL DEFAULT 3,
    digit_len           INTEGER NOT NULL DEFAULT 1,
    terminator          TEXT,
    invalid_message     TEXT,
    exit_message        TEXT
);

CREATE TABLE ivr_menu_options (
    menu_id      TEXT NOT NULL REFERENCES ivr_menus (menu_id) ON DELETE CASCADE,
    digit        TEXT NOT NULL,
    -- menu, back, repeat, transfer, hangup, webhook, say
    action_type  TEXT NOT NULL,
    action_value TEXT,
    PRIMARY KEY (menu_id, digit)
);
