"""The only module that speaks SQL. SQLite through sqlite-utils, in WAL mode.

Every change happens in a transaction: one per fetched feed, so a run killed at any moment
leaves each feed either wholly before or wholly after its update. The schema carries a
version (``PRAGMA user_version``); :data:`MIGRATIONS` brings an older database up to date
when it is opened.

Where sqlite-utils is used, and where plain SQL is, and why:

- schema changes go through sqlite-utils (``add_column``, ``create_index``, ``transform``),
  as do reads that want rows as dicts (feed states);
- writes are plain ``INSERT ... ON CONFLICT`` inside our own ``BEGIN IMMEDIATE``
  transaction (:meth:`Storage.transaction`): sqlite-utils' ``upsert_all`` commits on its
  own, which would end a feed's transaction half-way;
- the hot reads (merging a fetch, choosing what is shown, reading pages) select named
  columns as tuples: at 100,000 entries, building a dict per row costs more than the query.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import fields
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import sqlite_utils

from campplanet import tidy, urls
from campplanet.exceptions import StorageError
from campplanet.types import FeedState, Outcome, StoredEntry, content_digest


def _v1(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE feeds (
            url TEXT PRIMARY KEY,
            fetch_url TEXT,
            etag TEXT,
            last_modified TEXT,
            body_hash TEXT,
            title TEXT,
            link TEXT,
            image TEXT,
            added TEXT,
            last_attempt TEXT,
            last_success TEXT,
            last_status INTEGER,
            last_error TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            failing_since TEXT,
            next_attempt TEXT,
            gone INTEGER NOT NULL DEFAULT 0,
            problem TEXT,
            imported_at TEXT
        )
        """
    )
    db.execute(
        """
        CREATE TABLE entries (
            feed_url TEXT NOT NULL REFERENCES feeds(url) ON DELETE CASCADE,
            key TEXT NOT NULL,
            canonical_link TEXT,
            guid TEXT,
            link TEXT,
            title TEXT NOT NULL,
            content TEXT NOT NULL,
            summary TEXT NOT NULL,
            author TEXT,
            published TEXT,
            updated TEXT,
            categories TEXT NOT NULL DEFAULT '[]',
            first_seen TEXT NOT NULL,
            last_seen TEXT,
            date TEXT NOT NULL,
            backdated INTEGER NOT NULL DEFAULT 0,
            hidden_new_feed INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (feed_url, key)
        )
        """
    )
    db.execute("CREATE INDEX entries_date ON entries(date DESC)")
    db.execute("CREATE INDEX entries_canonical_link ON entries(feed_url, canonical_link)")
    db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT)")


def _v2(db: sqlite_utils.Database) -> None:
    """Entry content is stored tidy (ready for the page), not only sanitized: done by
    :meth:`Storage.refresh_derived`, which re-derives it whenever the rules change."""


def _v3(db: sqlite_utils.Database) -> None:
    """Entries keep a digest of their content and summary (filled by refresh_derived)."""
    db.execute("ALTER TABLE entries ADD COLUMN content_hash TEXT NOT NULL DEFAULT ''")


_TIME_COLUMNS = {  # as of schema 4
    "feeds": (
        "added",
        "last_attempt",
        "last_success",
        "failing_since",
        "next_attempt",
        "imported_at",
    ),
    "entries": ("published", "updated", "first_seen", "last_seen", "date"),
}


def _v4(db: sqlite_utils.Database) -> None:
    """Flood control is decided at render time from stored facts: the per-entry verdict
    goes, the planet's founding time is kept. Times written with a year before 1000
    ("103-12-13T18:30:02Z", which no reader accepts) get their year padded."""
    for table, columns in {
        **_TIME_COLUMNS,
        "feeds": (*_TIME_COLUMNS["feeds"], "imported_at"),
    }.items():
        for column in columns:
            db.execute(
                f"UPDATE {table} SET {column} = substr('0000' || {column}, -20) "
                f"WHERE length({column}) < 20"
            )
    db["entries"].transform(drop={"hidden_new_feed"})
    db.execute("ALTER TABLE feeds ADD COLUMN at_founding INTEGER NOT NULL DEFAULT 0")
    founded = db.execute("SELECT min(added) FROM feeds").fetchone()[0]
    if founded is not None:
        db.execute("INSERT INTO meta (name, value) VALUES ('founded', ?)", [founded])
        db.execute("UPDATE feeds SET at_founding = 1 WHERE added = ?", [founded])


def _v5(db: sqlite_utils.Database) -> None:
    """Each entry row carries the revision of the write that last changed it (unique
    across the database, see :meth:`Storage.save_entries`): what a page shows is named by
    its rows' (rowid, revision) pairs, without reading them. Indexes for choosing what is
    shown without loading every entry. Each feed keeps how its last fetch ended, as a
    type rather than as words in its error."""
    db["entries"].add_column("revision", int, not_null_default=0)
    db["feeds"].add_column("last_outcome", str)
    db.execute("UPDATE feeds SET last_outcome = 'timed_out' WHERE last_error LIKE 'timed out%'")
    db["entries"].create_index(["first_seen"], index_name="entries_first_seen")
    db["entries"].create_index(["canonical_link"], index_name="entries_link")
    db["entries"].create_index(["guid"], index_name="entries_guid")


def _v6(db: sqlite_utils.Database) -> None:
    """Indexes that answer what choosing the shown entries asks without visiting the
    entries' rows (which hold their text): which links and ids several feeds carry, and
    every entry's place in the order (see :meth:`Storage.show_all_but`)."""
    db.execute("DROP INDEX IF EXISTS entries_link")
    db.execute("DROP INDEX IF EXISTS entries_guid")
    db["entries"].create_index(
        ["canonical_link", "feed_url"], index_name="entries_link_feed", if_not_exists=True
    )
    db["entries"].create_index(
        ["guid", "feed_url"], index_name="entries_guid_feed", if_not_exists=True
    )
    db["entries"].create_index(
        ["feed_url", "first_seen", "date", "backdated", "key", "canonical_link"],
        index_name="entries_placing",
        if_not_exists=True,
    )


def _v7(db: sqlite_utils.Database) -> None:
    """The placing index also holds each entry's revision, so that naming what every
    page shows (:meth:`Storage.shown_versions`) reads no entry's row either."""
    db.execute("DROP INDEX IF EXISTS entries_placing")
    db["entries"].create_index(list(_PLACING_COLUMNS), index_name="entries_placing")


def _v8(db: sqlite_utils.Database) -> None:
    """What testing a stored entry's text against a camp's ``match`` found, remembered for
    the entry's revision (see :meth:`Storage.remember_camp_matches`): a render tests only
    the posts that are new or changed since. A cache: emptied, every post is tested again."""
    db["camp_matches"].create(
        {"pattern": str, "entry": int, "revision": int, "matched": int},
        pk=("pattern", "entry"),
        not_null={"pattern", "entry", "revision", "matched"},
    )


def _v9(db: sqlite_utils.Database) -> None:
    """The theme's templates as the last render compiled them (see
    :class:`campplanet.theme.CompiledTemplates`), a cache. No index of entries by date
    alone: nothing reads them so since the shown entries are placed from
    ``entries_placing``, and every index costs each write."""
    db["compiled_templates"].create({"key": str, "code": bytes}, pk="key", not_null={"code"})
    db.execute("DROP INDEX IF EXISTS entries_date")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _v1,
    _v2,
    _v3,
    _v4,
    _v5,
    _v6,
    _v7,
    _v8,
    _v9,
]
SCHEMA_VERSION = len(MIGRATIONS)


def format_time(dt: datetime | None) -> str | None:
    """UTC, second precision, fixed width (the year padded to four digits): sorts
    correctly as text, and reads back for any year a datetime can hold."""
    if dt is None:
        return None
    if dt.utcoffset():
        dt = dt.astimezone(UTC)
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}Z"
    )


def parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value)


def _times(cls: type) -> set[str]:
    """The fields of a dataclass that hold times (stored as text, see format_time)."""
    hints = typing.get_type_hints(cls)
    return {name for name, hint in hints.items() if datetime in (*typing.get_args(hint), hint)}


_FEED_TIMES = _times(FeedState)
_ENTRY_TIMES = _times(StoredEntry)
_BOOLS = {"gone", "backdated", "at_founding"}


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _to_row(obj: Any, times: set[str]) -> dict[str, Any]:
    row = {name: getattr(obj, name) for name in _field_names(type(obj))}
    for name in times & row.keys():
        row[name] = format_time(row[name])
    for name in _BOOLS & row.keys():
        row[name] = int(row[name])
    if "categories" in row:
        row["categories"] = json.dumps(list(row["categories"]), ensure_ascii=False)
    return row


def _from_row(cls: type, row: dict[str, Any], times: set[str]) -> Any:
    """A FeedState (or another flat dataclass) from a row selected with ``*``."""
    values = {name: row[name] for name in _field_names(cls) if name in row}
    for name in times & values.keys():
        values[name] = parse_time(values[name])
    for name in _BOOLS & values.keys():
        values[name] = bool(values[name])
    if values.get("last_outcome") is not None:
        values["last_outcome"] = Outcome(values["last_outcome"])
    return cls(**values)


def derived_rules_signature() -> str:
    """A digest of the code that derives stored columns from an entry (see
    :meth:`Storage._refresh_derived`): it changes whenever those rules may have."""
    digest = hashlib.sha256()
    for module in (tidy, urls):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:16]


def _rederive(row: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """(canonical link, content, digest, rowid) by today's rules, or None if unchanged."""
    rowid, link, canonical, content, summary, digest = row
    fresh = (urls.canonical_link(link), tidy.tidy_html(content))
    fresh_digest = content_digest(fresh[1], summary)
    if fresh == (canonical, content) and fresh_digest == digest:
        return None
    return (*fresh, fresh_digest, rowid)


_ENTRY_COLUMNS = _field_names(StoredEntry)
_ENTRY_SELECT = ", ".join(f"entries.{name}" for name in _ENTRY_COLUMNS)
# The same columns without the text (content, summary): content_hash stands for it.
_SLIM_SELECT = ", ".join(
    "''" if name in ("content", "summary") else f"entries.{name}" for name in _ENTRY_COLUMNS
)
# The camps an entry is a write-up of, as their slugs, sorted and space-separated.
_CAMPS_OF = (
    "(SELECT group_concat(slug, ' ') FROM (SELECT slug FROM camp_picked "
    "WHERE entry = {} AND matched ORDER BY slug))"
)
# A shown entry's version (see Storage.shown_versions), from a row of ``shown`` or
# ``camp_picked`` (named ``{0}``) and the camps it is a write-up of (``{1}``).
_VERSION = "{0}.entry || '.' || {0}.revision || '.' || {0}.names_one_post || '.' || ifnull({1}, '')"
_PLACED_BY = {"date": "e.date", "first_seen": "e.first_seen"}  # the columns placement reads
# How entries placed at the same time are ordered (entries' columns, as ``e``).
_DISPLAY_TIES = "e.first_seen DESC, e.feed_url DESC, e.key DESC"
# What placing an entry in the order reads, in one index (``entries_placing``), so that
# ordering every entry reads that index only.
_PLACING_COLUMNS = (
    "feed_url",
    "first_seen",
    "date",
    "backdated",
    "key",
    "canonical_link",
    "revision",
)
_CANDIDATE = (
    "e.rowid, e.feed_url, e.key, e.guid, e.canonical_link, e.date, e.first_seen, e.backdated, "
    "e.revision"
)


class Candidate(NamedTuple):
    """What choosing the shown entries reads of a stored entry (see ``Storage.candidates``)."""

    rowid: int
    feed_url: str
    key: str
    guid: str | None
    canonical_link: str | None
    date: str  # as stored: sorts as text
    first_seen: str
    backdated: int
    revision: int
    # what filters search, when they apply (else None)
    title: str | None
    categories: str | None  # JSON
    content: str | None
    summary: str | None


_ENTRY_TIME_AT = tuple(i for i, name in enumerate(_ENTRY_COLUMNS) if name in _ENTRY_TIMES)
_ENTRY_BOOL_AT = tuple(i for i, name in enumerate(_ENTRY_COLUMNS) if name in _BOOLS)
_ENTRY_CATEGORIES_AT = _ENTRY_COLUMNS.index("categories")
_fromisoformat = datetime.fromisoformat


def _entry_from_tuple(row: tuple[Any, ...]) -> StoredEntry:
    """A StoredEntry from a row that starts with :data:`_ENTRY_SELECT`'s columns."""
    values = list(row[: len(_ENTRY_COLUMNS)])
    for i in _ENTRY_TIME_AT:
        if values[i] is not None:
            values[i] = _fromisoformat(values[i])
    for i in _ENTRY_BOOL_AT:
        values[i] = bool(values[i])
    categories = values[_ENTRY_CATEGORIES_AT]
    values[_ENTRY_CATEGORIES_AT] = () if categories == "[]" else tuple(json.loads(categories))
    return StoredEntry(*values)


class Storage:
    """The planet's database."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        try:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db = sqlite_utils.Database(conn)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
            self._refresh_derived()
        except sqlite3.DatabaseError as e:
            raise StorageError(f"{self.path}: cannot open the database: {e}") from None

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"{self.path}: the database is from a newer campplanet (schema {version}, "
                f"this one knows {SCHEMA_VERSION}); upgrade campplanet"
            )
        for number in range(version, SCHEMA_VERSION):
            with self.transaction():
                MIGRATIONS[number](self.db)
                self.db.execute(f"PRAGMA user_version = {number + 1}")

    def _refresh_derived(self) -> None:
        """Bring the columns derived from an entry by campplanet's rules (its canonical
        link, its tidied content and the content's digest) up to the rules of this
        version, once after an upgrade that changed them. One transaction, in batches; the
        rows changed get a new revision, as any write does."""
        signature = derived_rules_signature()
        if self.get_meta("derived") == signature:
            return
        with self.transaction():
            last, revision = 0, None
            while True:
                batch = self.db.execute(
                    "SELECT rowid, link, canonical_link, content, summary, content_hash "
                    "FROM entries WHERE rowid > ? ORDER BY rowid LIMIT 500",
                    [last],
                ).fetchall()
                if not batch:
                    break
                last = batch[-1][0]
                changed = [derived for row in batch if (derived := _rederive(row)) is not None]
                if not changed:
                    continue
                revision = revision or self._next_revision()
                self.db.conn.executemany(
                    "UPDATE entries SET canonical_link = ?, content = ?, content_hash = ?, "
                    "revision = ? WHERE rowid = ?",
                    [
                        (link, content, digest, revision, rowid)
                        for link, content, digest, rowid in changed
                    ],
                )
            self.set_meta("derived", signature)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # --- feeds -------------------------------------------------------------------------

    def feed_states(self) -> dict[str, FeedState]:
        return {
            row["url"]: _from_row(FeedState, row, _FEED_TIMES)
            for row in self.db.query("SELECT * FROM feeds")
        }

    def feed_state(self, url: str) -> FeedState | None:
        rows = list(self.db.query("SELECT * FROM feeds WHERE url = ?", [url]))
        return _from_row(FeedState, rows[0], _FEED_TIMES) if rows else None

    def founded(self) -> datetime | None:
        """When the planet's first run started (None before it)."""
        return parse_time(self.get_meta("founded"))

    def record_subscriptions(self, urls: Iterable[str], now: datetime) -> None:
        """Note when each subscription was first found in the list, and whether that was at
        the planet's first run (which founds the planet): the facts new-feed flood control
        needs. Done at the start of a run, so an interrupted first run still counts."""
        stamp = format_time(now)
        with self.transaction():
            founding = self.get_meta("founded") is None
            self.db.conn.executemany(
                "INSERT INTO feeds (url, added, at_founding) VALUES (?, ?, ?) "
                "ON CONFLICT (url) DO NOTHING",
                [(url, stamp, int(founding)) for url in urls],
            )
            if founding:
                self.set_meta("founded", stamp)

    def save_feed(self, state: FeedState) -> None:
        """Write one feed's fetch state (call inside a transaction)."""
        self._upsert("feeds", [_to_row(state, _FEED_TIMES)], ("url",))

    # --- entries -----------------------------------------------------------------------

    def entries_of(self, feed_url: str, *, text: bool = True) -> list[StoredEntry]:
        """The entries of one feed. Without ``text``, content and summary are left empty
        (``content_hash`` stands for them): what merging a fetch needs."""
        select = _ENTRY_SELECT if text else _SLIM_SELECT
        cursor = self.db.conn.execute(
            f"SELECT {select} FROM entries WHERE feed_url = ?", [feed_url]
        )
        return [_entry_from_tuple(row) for row in cursor]

    def save_entries(self, entries: Iterable[StoredEntry]) -> None:
        """Insert or replace entries (inside a transaction), all under one new revision."""
        rows = []
        for entry in entries:
            row = _to_row(entry, _ENTRY_TIMES)
            row["content_hash"] = content_digest(entry.content, entry.summary)
            rows.append(row)
        if rows:
            revision = self._next_revision()
            for row in rows:
                row["revision"] = revision
            self._upsert("entries", rows, ("feed_url", "key"))

    def _next_revision(self) -> int:
        """A number no earlier write of entries used (inside the writer's transaction)."""
        (value,) = self.db.execute(
            "INSERT INTO meta (name, value) VALUES ('revision', '1') ON CONFLICT (name) "
            "DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING CAST(value AS INTEGER)"
        ).fetchone()
        return value

    def _upsert(self, table: str, rows: list[dict[str, Any]], pk: tuple[str, ...]) -> None:
        # Plain SQL rather than Table.upsert_all: sqlite-utils commits on its own, which would
        # end the caller's transaction half-way.
        columns = list(rows[0])
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in pk)
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)}) "
            f"ON CONFLICT ({', '.join(pk)}) DO UPDATE SET {updates}"
        )
        self.db.conn.executemany(sql, [[row[c] for c in columns] for row in rows])

    # --- what is shown: read for campplanet.views.select, kept for the render -----------
    #
    # Choosing what the planet shows streams the entries once, without their text unless a
    # filter needs it, and keeps only the chosen rows' ids, in a temporary table (``picked``,
    # then ``shown`` in display order). Pages are read from it by position. Temporary tables
    # belong to this connection: the render that reads them uses the same Storage.

    def choose_from(self, feed_urls: Sequence[str]) -> None:
        """Read the entries of these subscriptions, in this order of precedence, from now on
        (for :meth:`candidates` and the queries after it)."""
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS subs (url TEXT PRIMARY KEY, position)")
        self.db.execute("DELETE FROM subs")
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO subs VALUES (?, ?)", [(u, n) for n, u in enumerate(feed_urls)]
        )

    def candidates(
        self, *, text: bool, only: tuple[set[str], set[str], set[str]] | None = None
    ) -> Iterator[Candidate]:
        """Entries of the subscriptions, the earliest seen first (then by subscription order
        and key: the order in which the same post reached through several subscriptions
        goes to the first). With ``text``, what filters search. ``only`` (feeds, canonical
        links, ids): just the entries of those feeds or carrying one of those links or ids."""
        texts = "e.title, e.categories, e.content, e.summary" if text else "NULL, NULL, NULL, NULL"
        where = ""
        if only is not None:
            for name, values in zip(("only_feeds", "only_links", "only_ids"), only, strict=True):
                self._temp_set(name, values)
            where = (
                "WHERE e.feed_url IN only_feeds OR e.canonical_link IN only_links "
                "OR e.guid IN only_ids"
            )
        cursor = self.db.conn.execute(
            f"SELECT {_CANDIDATE}, {texts} FROM entries e JOIN subs ON subs.url = e.feed_url "
            f"{where} ORDER BY e.first_seen, subs.position, e.key"
        )
        return map(Candidate._make, cursor)

    def _temp_set(self, name: str, values: Iterable[Any]) -> None:
        self.db.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} (value PRIMARY KEY)")
        self.db.execute(f"DELETE FROM {name}")
        self.db.conn.executemany(f"INSERT OR IGNORE INTO {name} VALUES (?)", [(v,) for v in values])

    def in_several_feeds(self) -> tuple[set[str], set[str]]:
        """(canonical links, ids) that entries of more than one feed carry (feeds no longer
        subscribed included: a key they share decides nothing, and the index answers
        without visiting the entries)."""
        return self._in_several_feeds("canonical_link"), self._in_several_feeds("guid")

    def _in_several_feeds(self, column: str) -> set[str]:
        query = (
            f"SELECT {column} FROM entries WHERE {column} IS NOT NULL "
            f"GROUP BY {column} HAVING min(feed_url) != max(feed_url)"
        )
        return {value for (value,) in self.db.execute(query)}

    def links_shared_in_a_feed(self) -> set[tuple[str, str]]:
        """(feed, canonical link) of every link under which a feed holds several entries
        (kept, too, for :meth:`pick_all`)."""
        self.db.execute("DROP TABLE IF EXISTS temp.shared")
        self.db.execute(
            "CREATE TEMP TABLE shared AS SELECT feed_url, canonical_link FROM entries "
            "WHERE canonical_link IS NOT NULL GROUP BY feed_url, canonical_link "
            "HAVING count(*) > 1"
        )
        self.db.execute("CREATE INDEX temp.shared_pair ON shared (feed_url, canonical_link)")
        return set(self.db.execute("SELECT feed_url, canonical_link FROM shared").fetchall())

    def first_import(self, feed_url: str, imported_at: datetime) -> list[StoredEntry]:
        """The entries a feed's first import found (slim: no text)."""
        cursor = self.db.conn.execute(
            f"SELECT {_SLIM_SELECT} FROM entries WHERE feed_url = ? AND first_seen <= ?",
            [feed_url, format_time(imported_at)],
        )
        return [_entry_from_tuple(row) for row in cursor]

    def start_picking(self) -> None:
        self.db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS picked (entry INTEGER PRIMARY KEY, placed, "
            "names_one_post, first_seen, feed_url, key, date, revision)"
        )
        self.db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS camp_picked (entry INTEGER, slug TEXT, placed, "
            "names_one_post, revision, feed_url, tested INTEGER NOT NULL DEFAULT 0, "
            "matched INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (entry, slug))"
        )
        self.db.execute(  # a camp's write-ups in their order
            "CREATE INDEX IF NOT EXISTS temp.camp_order ON camp_picked (slug, placed, entry)"
        )
        self.db.execute("DELETE FROM picked")
        self.db.execute("DELETE FROM camp_picked")

    def pick_for_camps(self, rows: Iterable[tuple[int, str, str, bool, int, str]]) -> None:
        """Keep (rowid, camp slug, placed, link names one post, revision, feed) of entries
        in a camp's window."""
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO camp_picked "
            "(entry, slug, placed, names_one_post, revision, feed_url) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )

    # Which entries in a camp's window are its write-ups: each camp's pattern (its ``match``
    # filed under the rules that test it) is in ``camp_patterns``; what testing an entry's
    # text against a pattern found is remembered in ``camp_matches`` for the entry's
    # revision, so only entries new or changed since are read and tested.

    def use_camps(self, windows: dict[str, tuple[str, str]], patterns: dict[str, str]) -> None:
        """Each camp's window (stored times) and pattern, by slug, from now on."""
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS camp_windows (slug, start, stop)")
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS camp_patterns (slug PRIMARY KEY, pattern)")
        self.db.execute("DELETE FROM camp_windows")
        self.db.execute("DELETE FROM camp_patterns")
        self.db.conn.executemany(
            "INSERT INTO camp_windows VALUES (?, ?, ?)",
            [(slug, start, stop) for slug, (start, stop) in windows.items()],
        )
        self.db.conn.executemany("INSERT INTO camp_patterns VALUES (?, ?)", patterns.items())

    def recall_camp_matches(self) -> None:
        """Mark the entries in a camp's window that were tested against its pattern as they
        are now: tested, and write-ups if they matched."""
        self.db.execute(
            "UPDATE camp_picked SET tested = 1, matched = m.matched "
            "FROM camp_patterns p JOIN camp_matches m ON m.pattern = p.pattern "
            "WHERE NOT camp_picked.tested AND p.slug = camp_picked.slug "
            "AND m.entry = camp_picked.entry AND m.revision = camp_picked.revision"
        )

    def untested_camp_texts(
        self,
    ) -> Iterator[tuple[int, int, str, str, tuple[str, str, str, str]]]:
        """(rowid, revision, camp slug, pattern, (title, categories, content, summary)) of
        every entry in a camp's window not yet tested against the camp's pattern as it is
        now. An entry's rows (one per camp) come together."""
        for row in self.db.conn.execute(
            "SELECT c.entry, c.revision, c.slug, p.pattern, e.title, e.categories, e.content, "
            "e.summary FROM camp_picked c JOIN camp_patterns p ON p.slug = c.slug "
            "JOIN entries e ON e.rowid = c.entry WHERE NOT c.tested ORDER BY c.entry"
        ):
            yield row[0], row[1], row[2], row[3], row[4:]

    def mark_write_ups(self, pairs: Iterable[tuple[int, str]]) -> None:
        """Mark (rowid, camp slug) pairs as write-ups of the camp."""
        self.db.conn.executemany(
            "UPDATE camp_picked SET matched = 1 WHERE entry = ? AND slug = ?", pairs
        )

    def remember_camp_matches(self, found: Sequence[tuple[str, int, int, bool]]) -> None:
        """Remember what testing entries found: (pattern, rowid, revision, matched), and
        forget what was found for patterns no longer in use. A cache: if it cannot be
        written (the database is busy or read-only), the next render tests them again."""
        with suppress(sqlite3.Error), self.transaction():
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO camp_matches (pattern, entry, revision, matched) "
                "VALUES (?, ?, ?, ?)",
                found,
            )
            self.db.execute(
                "DELETE FROM camp_matches WHERE pattern NOT IN (SELECT pattern FROM camp_patterns)"
            )

    def camp_entries(
        self, slug: str, *, write_ups: bool = True, text: bool = True
    ) -> list[tuple[StoredEntry, bool, str]]:
        """The entries in camp ``slug``'s window, oldest placed first: its write-ups, or
        (``write_ups=False``) the near misses that did not match. Each with whether its link
        names one post, and the camps it is a write-up of."""
        select = _ENTRY_SELECT if text else _SLIM_SELECT
        cursor = self.db.conn.execute(
            f"SELECT {select}, c.names_one_post, {_CAMPS_OF.format('c.entry')} "
            "FROM camp_picked c JOIN entries ON entries.rowid = c.entry "
            "WHERE c.slug = ? AND c.matched = ? ORDER BY c.placed, c.entry",
            [slug, int(write_ups)],
        )
        return [(_entry_from_tuple(row), bool(row[-2]), row[-1] or "") for row in cursor]

    def camp_versions(self, slug: str) -> Iterator[tuple[str, str]]:
        """(version, feed) of every write-up of camp ``slug``, oldest placed first: the
        version as :meth:`shown_versions` makes it. Reads no entry's row."""
        return self.db.conn.execute(
            f"SELECT {_VERSION.format('c', _CAMPS_OF.format('c.entry'))}, c.feed_url "
            "FROM camp_picked c WHERE c.slug = ? AND c.matched ORDER BY c.placed, c.entry",
            [slug],
        )

    def camp_authors(self, slug: str) -> list[tuple[str | None, str]]:
        """(author, feed) of every write-up of camp ``slug``."""
        return self.db.conn.execute(
            "SELECT e.author, e.feed_url FROM camp_picked c JOIN entries e ON e.rowid = c.entry "
            "WHERE c.slug = ? AND c.matched",
            [slug],
        ).fetchall()

    def pick(self, rows: Iterable[tuple[int, str, bool]]) -> None:
        """Keep (rowid, placed, link names one post) of shown entries."""
        self.db.conn.executemany(
            "INSERT INTO picked SELECT ?, ?, ?, first_seen, feed_url, key, date, revision "
            "FROM entries WHERE rowid = ?",
            [(rowid, placed, one, rowid) for rowid, placed, one in rows],
        )

    def show_all_but(self, turned_away: Iterable[int], placed_by: dict[bool, str]) -> int:
        """Show every entry of the subscriptions but the ``turned_away`` ones, in display
        order, each placed by the time ``placed_by`` names for it (by whether it is
        backdated: ``"date"`` or ``"first_seen"``); returns how many."""
        self._temp_set("turned_away", turned_away)
        back, not_back = (_PLACED_BY[placed_by[flag]] for flag in (True, False))
        self._new_shown()
        # INDEXED BY: the planner would rather visit every row, which holds the entry's text.
        self.db.execute(
            "INSERT INTO shown (entry, names_one_post, placed, feed_url, date, revision) "
            "SELECT e.rowid, s.feed_url IS NULL, "
            f"CASE WHEN e.backdated THEN {back} ELSE {not_back} END AS place, e.feed_url, e.date, "
            "e.revision "
            "FROM entries e INDEXED BY entries_placing JOIN subs ON subs.url = e.feed_url "
            "LEFT JOIN shared s ON s.feed_url = e.feed_url AND s.canonical_link = e.canonical_link "
            f"WHERE e.rowid NOT IN turned_away ORDER BY place DESC, {_DISPLAY_TIES}"
        )
        return self._shown_count()

    def counts_per_feed(self) -> dict[str, tuple[int, int, str | None]]:
        """After :meth:`show_all_but`, for each subscription with entries stored: how many,
        how many of them are shown, and the newest shown one's date. One pass over the
        placing index, in its order."""
        rows = self.db.execute(
            "SELECT e.feed_url, count(*), sum(e.rowid NOT IN turned_away), "
            "max(CASE WHEN e.rowid NOT IN turned_away THEN e.date END) "
            "FROM entries e INDEXED BY entries_placing JOIN subs ON subs.url = e.feed_url "
            "GROUP BY e.feed_url"
        )
        return {url: (stored, shown, newest) for url, stored, shown, newest in rows}

    def pick_for_camps_in(self, looked_at: Iterable[int]) -> None:
        """Every shown entry placed in a camp's window is in that camp's window, but for
        the ``looked_at`` entries, whose place in camps was decided one by one. Each with
        what testing it against the camp's pattern found, if it was (as
        :meth:`recall_camp_matches` marks it)."""
        self._temp_set("looked_at", looked_at)
        self.db.execute("CREATE INDEX IF NOT EXISTS temp.shown_placed ON shown (placed)")
        self.db.execute(
            "INSERT OR IGNORE INTO camp_picked "
            "(entry, slug, placed, names_one_post, revision, feed_url, tested, matched) "
            "SELECT p.entry, w.slug, p.placed, p.names_one_post, p.revision, p.feed_url, "
            "m.matched IS NOT NULL, ifnull(m.matched, 0) FROM shown p "
            "JOIN camp_windows w ON p.placed >= w.start AND p.placed < w.stop "
            "JOIN camp_patterns c ON c.slug = w.slug LEFT JOIN camp_matches m "
            "ON m.pattern = c.pattern AND m.entry = p.entry AND m.revision = p.revision "
            "WHERE p.entry NOT IN looked_at"
        )

    def finish_picking(self) -> int:
        """Put the picked entries in display order (newest placed first); returns how many."""
        self._new_shown()
        self.db.execute(
            "INSERT INTO shown (entry, names_one_post, placed, feed_url, date, revision) "
            "SELECT entry, names_one_post, placed, feed_url, date, revision FROM picked e "
            f"ORDER BY placed DESC, {_DISPLAY_TIES}"
        )
        return self._shown_count()

    def _new_shown(self) -> None:
        # Rows are numbered from 1 in the order they are inserted: position is display
        # position + 1.
        self.db.execute("DROP TABLE IF EXISTS temp.shown")
        self.db.execute(
            "CREATE TEMP TABLE shown (position INTEGER PRIMARY KEY, entry, names_one_post, placed, "
            "feed_url, date, revision)"
        )

    def _shown_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM shown").fetchone()[0]

    def shown(self, start: int, stop: int, *, text: bool) -> list[tuple[StoredEntry, bool]]:
        """The shown entries at display positions ``start`` to ``stop``, each with whether
        its link names one post. Without ``text``, content and summary are left empty."""
        select = _ENTRY_SELECT if text else _SLIM_SELECT
        cursor = self.db.conn.execute(
            f"SELECT {select}, shown.names_one_post, {_CAMPS_OF.format('shown.entry')} "
            "FROM shown JOIN entries ON entries.rowid = shown.entry "
            "WHERE position > ? AND position <= ? ORDER BY position",
            [start, stop],
        )
        return [(_entry_from_tuple(row), bool(row[-2]), row[-1] or "") for row in cursor]

    def shown_versions(self) -> Iterator[tuple[str, str]]:
        """(version, feed) of every shown entry, in display order. The version names what
        the entry's view is made of: its row and that row's revision (unique across the
        database, so it changes with every write), whether its link names one post, and the
        camps it is a write-up of."""
        return self.db.conn.execute(
            f"SELECT {_VERSION.format('shown', 'camps.slugs')}, feed_url FROM shown LEFT JOIN ("
            "SELECT entry, group_concat(slug, ' ') AS slugs FROM (SELECT entry, slug "
            "FROM camp_picked WHERE matched ORDER BY entry, slug) GROUP BY entry"
            ") AS camps ON camps.entry = shown.entry ORDER BY position"
        )

    # --- housekeeping ------------------------------------------------------------------

    def prune(self, keep: Iterable[str]) -> tuple[int, int]:
        """Delete feeds (and their entries) not in ``keep``. Returns (feeds, entries) deleted."""
        keep = set(keep)
        gone = [url for url in self.feed_states() if url not in keep]
        with self.transaction():
            entries = 0
            for url in gone:
                entries += self.db.execute("DELETE FROM entries WHERE feed_url = ?", [url]).rowcount
                self.db.execute("DELETE FROM feeds WHERE url = ?", [url])
            if entries:
                self.db.execute(
                    "DELETE FROM camp_matches WHERE entry NOT IN (SELECT rowid FROM entries)"
                )
        return len(gone), entries

    def get_meta(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", [name]).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            [name, value],
        )

    def render_manifest(self, output: str) -> dict[str, list[Any]]:
        """What the last render into the folder ``output`` recorded of its archive pages
        (see :data:`campplanet.render.Manifest`); empty if nothing usable was kept."""
        try:
            manifest = json.loads(self.get_meta(f"rendered:{output}") or "{}")
        except ValueError:
            return {}
        return manifest if isinstance(manifest, dict) else {}

    def save_render_manifest(self, output: str, manifest: dict[str, list[Any]]) -> None:
        """Keep a render's manifest for the next render into ``output``. It is a cache: if
        it cannot be written (the database is busy or read-only), the next render renders
        every page again, and that is all."""
        with suppress(sqlite3.Error):
            self.set_meta(f"rendered:{output}", json.dumps(manifest, separators=(",", ":")))

    def compiled_template(self, key: str) -> bytes | None:
        row = self.db.execute("SELECT code FROM compiled_templates WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def save_compiled_template(self, key: str, code: bytes) -> None:
        """Keep a compiled template. A cache: if it cannot be written (the database is busy
        or read-only), the next render compiles the template again."""
        with suppress(sqlite3.Error):
            self.db.execute(
                "INSERT OR REPLACE INTO compiled_templates (key, code) VALUES (?, ?)", [key, code]
            )

    def integrity_ok(self) -> bool:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
