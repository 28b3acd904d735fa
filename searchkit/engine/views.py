"""Files of a segment read through memory views of the mapped compound file, not copies."""

from __future__ import annotations

from whoosh.filedb.structfile import BufferFile

from .. import safepickle


class ViewFile(BufferFile):
    """Whoosh's BufferFile without the copy: reads go straight to the memory view."""

    def __init__(self, buf, name=None, onclose=None):
        super().__init__(b"", name=name, onclose=onclose)
        self._buf = buf
        self.file = _ViewReader(buf)

    def subset(self, position, length, name=None):
        return ViewFile(self._buf[position : position + length], name=name or self._name)

    def read_pickle(self):
        """A pickle of the index, read through :mod:`searchkit.safepickle`."""
        return safepickle.load(self.file)


class _ViewReader:
    """The read side of a binary file over a memoryview, for StructFile and pickle."""

    def __init__(self, view: memoryview):
        self._view = view
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        start = self._pos
        end = len(self._view) if size is None or size < 0 else min(start + size, len(self._view))
        self._pos = end
        return self._view[start:end].tobytes()

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int = -1) -> bytes:
        view = self._view
        start = self._pos
        end = len(view) if size is None or size < 0 else min(start + size, len(view))
        probe = start
        while probe < end:  # look for the newline a little at a time, not in a copy of it all
            window = view[probe : min(probe + 256, end)].tobytes()
            at = window.find(b"\n")
            if at >= 0:
                return self.read(probe + at + 1 - start)
            probe += len(window)
        return self.read(end - start)

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self._pos, len(self._view))[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._view = memoryview(b"")

    def flush(self) -> None:
        pass
