"""Files kept in this process's memory (`--files memory://`): for tests and throwaway servers; gone on exit."""

from collections.abc import AsyncIterator

from parley.files.base import CHUNK, BlobWriter, FileStorage


class _MemoryWriter(BlobWriter):
    def __init__(self, blobs: dict[str, bytes], key: str) -> None:
        self._blobs = blobs
        self._key = key
        self._data = bytearray()

    async def write(self, chunk: bytes) -> None:
        self._data += chunk

    async def commit(self) -> None:
        self._blobs[self._key] = bytes(self._data)

    async def abort(self) -> None:
        self._data.clear()


class MemoryFiles(FileStorage):
    url = "memory://"

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def writer(self, key: str) -> BlobWriter:
        return _MemoryWriter(self.blobs, key)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        data = self.blobs.get(key)
        if data is None:
            return
        for start in range(0, len(data), CHUNK):
            yield data[start:start + CHUNK]

    async def size(self, key: str) -> int | None:
        data = self.blobs.get(key)
        return None if data is None else len(data)

    async def delete(self, key: str) -> None:
        self.blobs.pop(key, None)
