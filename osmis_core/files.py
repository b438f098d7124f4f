"""The one way this project writes a file: through a temporary file in the same folder, then a rename, so that
readers never see half a file and a failed write leaves the previous content untouched."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


class _WriteErrorRecorder:
    """A binary file wrapper that remembers the OSError of a failed write: torch.save turns it into an opaque
    RuntimeError ("unexpected pos ..."), and a full disk should be reported as a full disk."""

    def __init__(self, f):
        self._f = f
        self.error: OSError | None = None

    def write(self, data) -> int:
        try:
            return self._f.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def __getattr__(self, name):
        return getattr(self._f, name)


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it: done once, at import, not while threads write files
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_read_umask()  # what open() would give a new file


def atomic_write_bytes(path: Path, write, durable: bool = True) -> None:
    """Write through a temporary file in the same folder, then os.replace: readers never see half a file.

    A failed write (a full disk, say) raises OSError naming `path`, and whatever `path` held before is untouched.
    durable: the data reach the disk (fsync) before the rename, so that a crash cannot leave an empty file behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    recorder = None
    try:
        os.chmod(tmp, _FILE_MODE)  # mkstemp creates 0600; the result should look like any other file
        with os.fdopen(fd, "wb") as f:
            recorder = _WriteErrorRecorder(f)
            write(recorder)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        cause = exc if isinstance(exc, OSError) else (recorder.error if recorder is not None else None)
        if cause is not None:
            raise OSError(cause.errno, cause.strerror or str(cause), str(path)) from None
        raise


def atomic_write_text(path: Path, text: str, durable: bool = True) -> None:
    atomic_write_bytes(Path(path), lambda f: f.write(text.encode("utf-8")), durable)
