"""Results store of one recipe on one dataset: one SQLite row per finished unit of work, committed on its own.

SQLite commits are atomic and, with `synchronous=FULL`, on disk before `put` returns: a killed run
loses at most the unit in flight, and a rerun skips every stored key. Rows are never replaced (plain
INSERT): a unit computed twice is an error, not a silent overwrite. `bind` ties the store to a recipe
hash and a data checksum; a store made for anything else is refused, so results are never mixed.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from scd_plugins.repro.errors import RunError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, started REAL NOT NULL, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units (key TEXT PRIMARY KEY, run_id TEXT NOT NULL, finished REAL NOT NULL,
                                  payload TEXT NOT NULL);
"""


def _corrupt(path, err):
    return RunError(f"{path} is not a readable results store ({err}); move it away or delete it to start this "
                    "dataset over (its stored units are lost), or run into another --out folder")


class ResultStore:
    """`ResultStore(path)`; `bind(...)`, `put(key, run_id, payload)`, `done_keys()`, `payloads()`, `meta`."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=60)
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._db.execute("SELECT count(*) FROM units").fetchone()
        except sqlite3.DatabaseError as err:
            raise _corrupt(self.path, err) from None

    def close(self):
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _q(self, sql, args=()):
        try:
            return self._db.execute(sql, args)
        except sqlite3.DatabaseError as err:
            raise _corrupt(self.path, err) from None

    def get_meta(self, name):
        row = self._q("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, name, value):
        with self._db:
            self._q("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, json.dumps(value, default=str)))

    def bind(self, *, recipe_id, recipe_hash, data_name, data_checksum):
        """Claim the store for this recipe version and these data, or refuse one made for others."""
        want = {"recipe_id": recipe_id, "recipe_hash": recipe_hash, "data_name": data_name,
                "data_checksum": data_checksum}
        have = self.get_meta("identity")
        if have is None:
            self.set_meta("identity", want)
            return
        for k, what in (("recipe_id", "recipe"), ("recipe_hash", "version of recipe " + str(recipe_id)),
                        ("data_name", "data set"), ("data_checksum", "data (checksum)")):
            if have.get(k) != want[k]:
                raise RunError(f"{self.path} holds results of another {what} ({have.get(k)}, now {want[k]}); "
                               "results are never mixed: use another --out folder")

    def start_run(self, run_id, info):
        with self._db:
            self._q("INSERT INTO runs VALUES (?, ?, ?)", (run_id, time.time(), json.dumps(info)))

    def put(self, key, run_id, payload):
        text = json.dumps(payload, allow_nan=True)
        try:
            with self._db:                             # one transaction per unit
                self._db.execute("INSERT INTO units VALUES (?, ?, ?, ?)", (key, run_id, time.time(), text))
        except sqlite3.IntegrityError:
            raise RunError(f"{self.path} already holds unit {key!r}; stored results are never replaced (was the "
                           "same --out written by two runs?)") from None
        except sqlite3.DatabaseError as err:
            raise _corrupt(self.path, err) from None

    def done_keys(self):
        return {k for (k,) in self._q("SELECT key FROM units")}

    def payloads(self):
        """Payloads of every stored unit, in insertion order."""
        return [json.loads(p) for (p,) in self._q("SELECT payload FROM units ORDER BY rowid")]
