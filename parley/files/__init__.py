"""Where the bytes of uploaded files live, behind one interface (base.FileStorage) chosen by the --files URL,
like the store and the broker: a local directory, or PostgreSQL for a cluster with no shared disk. What a
file is (its type, a thumbnail) is decided here too, from the bytes alone (sniff.py, thumbs.py)."""

from pathlib import Path

from parley.files.base import BlobWriter, FileStorage, bad_key


def storage_for_url(url: str | None, db_url: str) -> FileStorage:
    """`--files` URL -> storage. Empty: next to the SQLite file (`<dir>/parley-files`) for a SQLite store,
    the store's own database for a PostgreSQL one. `file:///path` or a plain path: that directory;
    `postgresql://...`: that database; `memory://`: this process's memory (tests)."""
    if not url:
        url = db_url if db_url.split(":", 1)[0].lower().startswith("postgres") else _beside_sqlite(db_url)
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower() if "://" in url else "file"
    if scheme == "memory":
        from parley.files.memory import MemoryFiles

        return MemoryFiles()
    if scheme in ("postgresql", "postgres"):
        from parley.files.postgres import PostgresFiles

        return PostgresFiles(url)
    if scheme == "file":
        from parley.files.local import LocalFiles

        return LocalFiles(Path(url[len("file://"):] if url.startswith("file://") else url))
    raise ValueError(f"unsupported --files URL {url!r}: use a directory, file:///dir or postgresql://user@host/db")


def _beside_sqlite(db_url: str) -> str:
    path = db_url.split(":///", 1)[1] if ":///" in db_url else "parley.db"
    if path in ("", ":memory:"):
        path = "parley.db"
    return str(Path(path).expanduser().resolve().parent / "parley-files")


__all__ = ["BlobWriter", "FileStorage", "bad_key", "storage_for_url"]
