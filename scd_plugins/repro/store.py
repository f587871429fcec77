"""Results store of a recipe run: one SQLite row per finished unit of work, committed on its own.

SQLite commits are atomic and, with `synchronous=FULL`, on disk before `put` returns: a killed run
loses at most the unit in flight, and a rerun skips every stored key. Rows are never replaced (plain
INSERT): a unit computed twice is an error, not a silent overwrite.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, started REAL NOT NULL, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units (key TEXT PRIMARY KEY, run_id TEXT NOT NULL, finished REAL NOT NULL,
                                  payload TEXT NOT NULL);
"""


class ResultStore:
    """`ResultStore(path)`; `put(key, payload)`, `done_keys()`, `payloads()`; `meta` for the recipe hash."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=60)
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self):
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def get_meta(self, name):
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, name, value):
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, json.dumps(value)))

    def start_run(self, run_id, info):
        with self._db:
            self._db.execute("INSERT INTO runs VALUES (?, ?, ?)", (run_id, time.time(), json.dumps(info)))

    def put(self, key, run_id, payload):
        text = json.dumps(payload, allow_nan=True)
        with self._db:                                 # one transaction per unit
            self._db.execute("INSERT INTO units VALUES (?, ?, ?, ?)", (key, run_id, time.time(), text))

    def done_keys(self):
        return {k for (k,) in self._db.execute("SELECT key FROM units")}

    def rows(self):
        """(key, run_id, payload) of every stored unit, in insertion order."""
        cur = self._db.execute("SELECT key, run_id, payload FROM units ORDER BY rowid")
        return [(k, r, json.loads(p)) for k, r, p in cur]
