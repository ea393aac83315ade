"""The results store's schema: forward migrations, numbered by PRAGMA user_version."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from engine.results import health

# Each entry takes the schema from version i to i + 1. Never edit a released entry: add one.
MIGRATIONS: tuple[str, ...] = (
    # 1: evaluation runs
    """
    CREATE TABLE eval_runs (
        id INTEGER PRIMARY KEY,
        model_id TEXT NOT NULL,
        repo TEXT,
        revision TEXT,
        precision TEXT NOT NULL,
        device TEXT NOT NULL,
        device_name TEXT,
        task TEXT NOT NULL,
        task_version TEXT,
        num_fewshot INTEGER,
        limit_n INTEGER,
        samples INTEGER NOT NULL DEFAULT 0,
        metrics TEXT NOT NULL DEFAULT '{}',
        time_per_sample_ms REAL,
        peak_memory_mb REAL,
        model_size_mb REAL,
        lm_eval_version TEXT,
        transformers_version TEXT,
        torch_version TEXT,
        app_version TEXT,
        started REAL NOT NULL,
        ended REAL NOT NULL,
        status TEXT NOT NULL,
        error TEXT
    );
    CREATE INDEX eval_runs_cell ON eval_runs (model_id, task, precision, device);
    """,
    # 2: where a run came from (imports), and chat speed runs
    """
    ALTER TABLE eval_runs ADD COLUMN source TEXT NOT NULL DEFAULT 'local';
    CREATE TABLE speed_runs (
        id INTEGER PRIMARY KEY,
        model_id TEXT NOT NULL,
        precision TEXT NOT NULL,
        device TEXT NOT NULL,
        device_name TEXT,
        prompt TEXT,
        prompt_tokens INTEGER NOT NULL,
        new_tokens INTEGER NOT NULL,
        tokens_per_s REAL NOT NULL,
        time_to_first_token_s REAL,
        peak_memory_mb REAL,
        settings TEXT NOT NULL DEFAULT '{}',
        app_version TEXT,
        created REAL NOT NULL
    );
    CREATE INDEX speed_runs_model ON speed_runs (model_id, precision, device);
    """,
    # 3: board telemetry during the run (peak board memory, max GPU load, which reader)
    """
    ALTER TABLE eval_runs ADD COLUMN peak_board_mb REAL;
    ALTER TABLE eval_runs ADD COLUMN max_gpu_load_pct REAL;
    ALTER TABLE eval_runs ADD COLUMN telemetry_source TEXT;
    ALTER TABLE speed_runs ADD COLUMN peak_board_mb REAL;
    ALTER TABLE speed_runs ADD COLUMN max_gpu_load_pct REAL;
    ALTER TABLE speed_runs ADD COLUMN telemetry_source TEXT;
    """,
    # 4: the metric a run is read by (for a user's own task: the first lm-eval reported)
    """
    ALTER TABLE eval_runs ADD COLUMN primary_metric TEXT;
    """,
    # 5: background jobs: the queue a detached runner works through (engine/jobs/store.py)
    """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        spec TEXT NOT NULL,
        state TEXT NOT NULL,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        cells_done INTEGER NOT NULL DEFAULT 0,
        cells_total INTEGER NOT NULL DEFAULT 0,
        cells_at_start INTEGER NOT NULL DEFAULT 0,
        current_model TEXT,
        current_task TEXT,
        requests_done INTEGER,
        requests_total INTEGER,
        task_eta_s REAL,
        heartbeat REAL,
        pid INTEGER,
        pid_started REAL,
        log_path TEXT,
        runs TEXT NOT NULL DEFAULT '[]',
        error TEXT,
        created REAL NOT NULL,
        started REAL,
        ended REAL
    );
    CREATE INDEX jobs_state ON jobs (state);
    """,
    # 6: arena votes: one prompt, two sides as shown (a first), the outcome; the players are
    # the ranked configurations (engine.results.arena)
    """
    CREATE TABLE arena_votes (
        id INTEGER PRIMARY KEY,
        created REAL NOT NULL,
        blind INTEGER NOT NULL DEFAULT 1,
        prompt TEXT NOT NULL,
        outcome TEXT NOT NULL,
        player_a TEXT NOT NULL,
        player_b TEXT NOT NULL,
        config_a TEXT NOT NULL DEFAULT '{}',
        config_b TEXT NOT NULL DEFAULT '{}',
        settings_a TEXT NOT NULL DEFAULT '{}',
        settings_b TEXT NOT NULL DEFAULT '{}',
        reply_a TEXT,
        reply_b TEXT,
        app_version TEXT
    );
    CREATE INDEX arena_votes_players ON arena_votes (player_a, player_b);
    """,
    # 7: the runtime (transformers | llama.cpp) in every row's key; load time of speed runs
    """
    ALTER TABLE eval_runs ADD COLUMN runtime TEXT NOT NULL DEFAULT 'transformers';
    ALTER TABLE speed_runs ADD COLUMN runtime TEXT NOT NULL DEFAULT 'transformers';
    ALTER TABLE speed_runs ADD COLUMN load_seconds REAL;
    DROP INDEX IF EXISTS eval_runs_cell;
    CREATE INDEX eval_runs_cell ON eval_runs (model_id, task, runtime, precision, device);
    DROP INDEX IF EXISTS speed_runs_model;
    CREATE INDEX speed_runs_model ON speed_runs (model_id, runtime, precision, device);
    """,
    # 8: where a run came from: the machine that ran it and the backend that computed it
    # (smollm-tui here; lm-eval's own hf, vllm... for imported files). Rows from before
    # this version that ran here are given this machine's name by migrate() (the store lives
    # in its data dir), an imported one the GPU its file named.
    """
    ALTER TABLE eval_runs ADD COLUMN machine TEXT;
    ALTER TABLE eval_runs ADD COLUMN backend TEXT;
    UPDATE eval_runs SET backend = 'lm-eval', machine = COALESCE(device_name, 'imported')
        WHERE source LIKE 'import:%';
    UPDATE eval_runs SET backend = 'smollm-tui' WHERE source NOT LIKE 'import:%';
    """,
    # 9: each metric's kind as lm-eval gave it (which direction is better, whether it is a
    # fraction shown as %; engine.results.metric_kinds). Rows from before keep '{}' and are
    # read by their metric's name.
    """
    ALTER TABLE eval_runs ADD COLUMN metric_kinds TEXT NOT NULL DEFAULT '{}';
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, path: Path | None = None) -> int:
    """Bring the schema to SCHEMA_VERSION; returns the version found before.

    Each step holds the write lock (BEGIN IMMEDIATE) and reads the version again under it:
    two connections opening a new store at once (the Arena's two sides storing their first
    replies) both read version 0 first, and the second must find the step made, not make it
    again ("table eval_runs already exists")."""
    found = schema_version(db, path)
    for version in range(found, SCHEMA_VERSION):
        db.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(db, path) <= version:
                for statement in _statements(MIGRATIONS[version]):
                    db.execute(statement)
                if version + 1 in _AFTER:
                    _AFTER[version + 1](db)
                db.execute(f"PRAGMA user_version={version + 1}")
            db.commit()
        except BaseException:
            db.rollback()
            raise
    return found


def _statements(script: str) -> list[str]:
    """``script``'s statements one by one (executescript would commit the open
    transaction first); a ';' inside a string literal does not end one."""
    statements, current = [], ""
    for char in script:
        current += char
        if char == ";" and sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


def _name_local_machine(db: sqlite3.Connection) -> None:
    from engine.machine import machine_name

    db.execute(
        "UPDATE eval_runs SET machine = ? WHERE machine IS NULL AND source = 'local'",
        (machine_name(),),
    )


# Steps that need Python after a migration's SQL, in the same transaction: version -> step.
_AFTER = {8: _name_local_machine}


def schema_version(db: sqlite3.Connection, path: Path | None = None) -> int:
    """The store's PRAGMA user_version; StoreTooNew when a newer smollm-tui wrote it."""
    found = db.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise health.too_new(path or Path("results.db"), found, SCHEMA_VERSION)
    return found
