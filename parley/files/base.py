"""The FileStorage interface: put bytes under a key all at once or not at all, read them back in chunks,
delete them. Keys are made by the server (service/files.py), never from a client's file name."""

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

KEY = re.compile(r"[A-Za-z0-9_-]{8,64}(\.thumb)?")
CHUNK = 256 * 1024  # bytes per chunk read back


def bad_key(key: str) -> bool:
    return KEY.fullmatch(key) is None


class BlobWriter(ABC):
    """Bytes of one key, written in order. `commit` makes them readable under the key; `abort` (or never
    committing) leaves nothing behind."""

    @abstractmethod
    async def write(self, chunk: bytes) -> None: ...

    @abstractmethod
    async def commit(self) -> None: ...

    @abstractmethod
    async def abort(self) -> None: ...


class FileStorage(ABC):
    url: str

    @abstractmethod
    async def open(self) -> None:
        """Make ready (create the directory or table); leftovers of writes cut short by a crash are removed."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def writer(self, key: str) -> BlobWriter:
        """A writer for a new key (replacing what the key held, if anything, on commit)."""

    @abstractmethod
    def read(self, key: str) -> AsyncIterator[bytes]:
        """The key's bytes in chunks (nothing if there is no such key)."""

    @abstractmethod
    async def size(self, key: str) -> int | None:
        """How many bytes the key holds (None: no such key)."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the key (nothing happens if there is none)."""

    async def sweep(self) -> None:  # noqa: B027 (optional: nothing to do by default)
        """Remove what writes cut short by a crash left behind, once it is old enough to be sure."""

    async def put(self, key: str, data: bytes) -> None:
        writer = self.writer(key)
        try:
            await writer.write(data)
            await writer.commit()
        except BaseException:
            await writer.abort()
            raise
