"""The ratings of a study, in SQLite: raters, each rater's order, ratings, exclusions.

Every change is one transaction, committed (``synchronous=FULL``) before the server answers, so
a server that is killed loses nothing a rater saw acknowledged.  Each call opens its own
connection: the web server's threads and a ``report`` or ``exclude`` run alongside it never
share one.  The write-ahead log lets a report read while raters rate.
"""

from __future__ import annotations

import datetime
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sr_tf.errors import UserError
from sr_tf.mos.study import Study

SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS raters (
    rater TEXT PRIMARY KEY,
    started TEXT NOT NULL,
    calibrated TEXT,
    excluded INTEGER NOT NULL DEFAULT 0,
    reason TEXT
);
CREATE TABLE IF NOT EXISTS orders (
    rater TEXT NOT NULL REFERENCES raters (rater),
    position INTEGER NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (rater, position),
    UNIQUE (rater, item)
);
CREATE TABLE IF NOT EXISTS ratings (
    rater TEXT NOT NULL,
    item TEXT NOT NULL,
    score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    rated_at TEXT NOT NULL,
    elapsed_ms INTEGER,
    PRIMARY KEY (rater, item),
    FOREIGN KEY (rater, item) REFERENCES orders (rater, item)
);
"""


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class RaterState:
    """Where a rater stands: ratings given, items in all, the next item and its position."""

    rater: str
    rated: int
    total: int
    calibrated: bool
    excluded: bool
    next_item: str | None
    next_position: int | None


@dataclass(frozen=True)
class Rating:
    rater: str
    item: str
    score: int
    position: int
    rated_at: str
    elapsed_ms: int | None
    excluded: bool


class Store:
    """The SQLite file of one study (``ratings.sqlite`` in its folder)."""

    def __init__(self, path: str | Path, study_id: str):
        self.path = Path(path)
        self.study_id = study_id
        with self.transaction() as db:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            if not meta:
                db.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("schema", SCHEMA_VERSION), ("study_id", study_id)],
                )
            elif meta.get("study_id") != study_id:
                raise UserError(
                    f"{self.path} holds the ratings of another study; move it away or "
                    "prepare a new study folder"
                )
            elif meta.get("schema") != SCHEMA_VERSION:
                raise UserError(
                    f"{self.path} was written by another version of the MOS tool (ratings "
                    f"schema {meta.get('schema')}, this one reads {SCHEMA_VERSION})"
                )

    @classmethod
    def for_study(cls, study: Study, create: bool = True) -> Store:
        if not create and not study.database.exists():
            raise UserError(f"no ratings yet in {study.folder} (no {study.database.name})")
        return cls(study.database, study.study_id)

    def connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as err:
            raise UserError(f"{self.path}: not a ratings database ({err})") from err
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``), committed when the block succeeds."""
        db = self.connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    # -- raters --------------------------------------------------------------------------------

    def start(self, rater: str, order: Sequence[str]) -> RaterState:
        """The rater's state, first storing the rater and ``order`` if the rater is new."""
        with self.transaction() as db:
            if not db.execute("SELECT 1 FROM raters WHERE rater = ?", (rater,)).fetchone():
                db.execute("INSERT INTO raters (rater, started) VALUES (?, ?)", (rater, now()))
                db.executemany(
                    "INSERT INTO orders (rater, position, item) VALUES (?, ?, ?)",
                    [(rater, position, item) for position, item in enumerate(order)],
                )
        return self.state(rater)

    def state(self, rater: str) -> RaterState | None:
        db = self.connect()
        try:
            row = db.execute(
                "SELECT calibrated, excluded FROM raters WHERE rater = ?", (rater,)
            ).fetchone()
            if row is None:
                return None
            total = db.execute("SELECT COUNT(*) FROM orders WHERE rater = ?", (rater,)).fetchone()
            rated = db.execute("SELECT COUNT(*) FROM ratings WHERE rater = ?", (rater,)).fetchone()
            following = db.execute(
                "SELECT o.position, o.item FROM orders o LEFT JOIN ratings r "
                "ON r.rater = o.rater AND r.item = o.item "
                "WHERE o.rater = ? AND r.item IS NULL ORDER BY o.position LIMIT 1",
                (rater,),
            ).fetchone()
        finally:
            db.close()
        return RaterState(
            rater=rater,
            rated=rated[0],
            total=total[0],
            calibrated=row[0] is not None,
            excluded=bool(row[1]),
            next_item=following[1] if following else None,
            next_position=following[0] if following else None,
        )

    def mark_calibrated(self, rater: str) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE raters SET calibrated = COALESCE(calibrated, ?) WHERE rater = ?",
                (now(), rater),
            )

    def set_excluded(self, rater: str, excluded: bool = True, reason: str = "") -> None:
        """Mark a rater excluded (reports ignore their ratings) or include them again."""
        with self.transaction() as db:
            changed = db.execute(
                "UPDATE raters SET excluded = ?, reason = ? WHERE rater = ?",
                (int(excluded), reason or None, rater),
            ).rowcount
            if not changed:
                known = [r for (r,) in db.execute("SELECT rater FROM raters ORDER BY rater")]
                raise UserError(
                    f"no rater {rater!r} in {self.path} (raters: {', '.join(known) or 'none yet'})"
                )

    def raters(self) -> list[dict]:
        """Every rater with progress and exclusion, in the order they started."""
        db = self.connect()
        try:
            rows = db.execute(
                "SELECT r.rater, r.started, r.calibrated, r.excluded, r.reason, "
                "(SELECT COUNT(*) FROM ratings g WHERE g.rater = r.rater), "
                "(SELECT COUNT(*) FROM orders o WHERE o.rater = r.rater) "
                "FROM raters r ORDER BY r.started, r.rater"
            ).fetchall()
        finally:
            db.close()
        keys = ("rater", "started", "calibrated", "excluded", "reason", "rated", "total")
        return [dict(zip(keys, row)) | {"excluded": bool(row[3])} for row in rows]

    # -- ratings -------------------------------------------------------------------------------

    def add_rating(self, rater: str, item: str, score: int, elapsed_ms: int | None = None) -> bool:
        """Store one rating in its own committed transaction.  False when the rater already
        rated ``item`` (the first score stays); raises ValueError for an item not in their order."""
        if not 1 <= int(score) <= 5:
            raise ValueError(f"score {score} is not 1-5")
        with self.transaction() as db:
            if not db.execute(
                "SELECT 1 FROM orders WHERE rater = ? AND item = ?", (rater, item)
            ).fetchone():
                raise ValueError(f"item {item} is not in rater {rater}'s order")
            cursor = db.execute(
                "INSERT OR IGNORE INTO ratings (rater, item, score, rated_at, elapsed_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (rater, item, int(score), now(), elapsed_ms),
            )
            return cursor.rowcount == 1

    def ratings(self) -> list[Rating]:
        """Every rating, excluded raters' too (flagged), in the order they were given."""
        db = self.connect()
        try:
            rows = db.execute(
                "SELECT g.rater, g.item, g.score, o.position, g.rated_at, g.elapsed_ms, "
                "r.excluded FROM ratings g JOIN raters r ON r.rater = g.rater "
                "JOIN orders o ON o.rater = g.rater AND o.item = g.item "
                "ORDER BY g.rowid"  # insertion order: timestamps (ms) can tie
            ).fetchall()
        finally:
            db.close()
        return [Rating(*row[:6], excluded=bool(row[6])) for row in rows]
