"""Files in a local directory (the default beside the SQLite file). A write goes to `<dir>/.partial/` and is
renamed into place on commit, so a reader never sees half a file and a crash leaves only a partial file,
which the sweep (on start and every few minutes) removes once it is an hour old (other processes sharing
the directory may be writing). Disk work runs in threads: a slow disk does not stall the event loop."""

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from parley.files.base import CHUNK, BlobWriter, FileStorage, bad_key

PARTIAL = ".partial"
STALE = 3600.0  # seconds after which a partial file is a crash's leftover


class _LocalWriter(BlobWriter):
    def __init__(self, final: Path, partial: Path) -> None:
        self._final = final
        self._partial = partial
        self._file: BinaryIO | None = None

    async def write(self, chunk: bytes) -> None:
        if self._file is None:
            self._file = await asyncio.to_thread(self._partial.open, "wb")
        await asyncio.to_thread(self._file.write, chunk)

    async def commit(self) -> None:
        await asyncio.to_thread(self._finish)

    def _finish(self) -> None:
        if self._file is None:
            self._file = self._partial.open("wb")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._partial, self._final)

    async def abort(self) -> None:
        await asyncio.to_thread(self._drop)

    def _drop(self) -> None:
        if self._file is not None:
            self._file.close()
        self._partial.unlink(missing_ok=True)


class LocalFiles(FileStorage):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = f"file://{root}"

    async def open(self) -> None:
        await asyncio.to_thread((self.root / PARTIAL).mkdir, parents=True, exist_ok=True)
        await self.sweep()

    async def sweep(self) -> None:
        def remove_stale() -> None:
            for leftover in (self.root / PARTIAL).iterdir():
                try:
                    if leftover.stat().st_mtime < time.time() - STALE:
                        leftover.unlink(missing_ok=True)
                except FileNotFoundError:  # another process removed it
                    pass

        await asyncio.to_thread(remove_stale)

    async def close(self) -> None:
        pass

    def _path(self, key: str) -> Path:
        if bad_key(key):
            raise ValueError(f"bad file key {key!r}")
        return self.root / key

    def writer(self, key: str) -> BlobWriter:
        final = self._path(key)
        return _LocalWriter(final, self.root / PARTIAL / f"{key}.{os.urandom(4).hex()}")

    async def read(self, key: str) -> AsyncIterator[bytes]:
        try:
            f = await asyncio.to_thread(self._path(key).open, "rb")
        except FileNotFoundError:
            return
        try:
            while chunk := await asyncio.to_thread(f.read, CHUNK):
                yield chunk
        finally:
            f.close()

    async def size(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(self._path(key).stat)).st_size
        except FileNotFoundError:
            return None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)
