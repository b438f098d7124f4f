"""The one way this project writes a file: through a temporary file in the same folder, then a rename, so that
readers never see half a file and a failed write leaves the previous content untouched. Folders that must stay
consistent as a whole (galleries) are built the same way: in a hidden sibling folder, then swapped in."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import io
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from .stops import raise_stop_again


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it: done once, at import, not while threads write files
    os.umask(mask)
    return mask


_UMASK = _read_umask()
_FILE_MODE = 0o666 & ~_UMASK  # what open() would give a new file
_DIR_MODE = 0o777 & ~_UMASK  # what mkdir() would give a new folder


def resolved_path(path: Path) -> Path:
    """`path` resolved, or made absolute where it cannot be: Path.resolve raises RuntimeError on a loop of symbolic
    links (Python 3.11), which ended `osmis batch` in a traceback (a source or --out that is such a loop); what
    then reads or writes the path names it."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return path.absolute()


def make_folders(folder: Path) -> None:
    """mkdir -p `folder`; a file where the folder should be raises OSError saying so (mkdir's own words, "File
    exists", read as if the output were already there)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        # mkdir's "exists" is a file there, or a link to nothing (a loop of links): say which
        blocker = next((p for p in (folder, *folder.parents) if p.is_symlink() or p.is_file()), folder)
        if blocker.is_symlink() and not blocker.exists():
            raise OSError(errno.ELOOP, f"{blocker} is a link to nothing or a loop of links", str(folder)) from None
        raise OSError(errno.ENOTDIR, f"{blocker} is a file, not a folder", str(folder)) from None


def refused_name(path: str | Path, follow_links: bool = True) -> str | None:
    """Why the system refuses to look `path` up, in its words: "File name too long" (a name past 255 bytes),
    "embedded null byte" (a NUL pasted into a name), "Permission denied" (a folder on its way that cannot be read);
    None when it can be looked up, whether or not something is there (a name not there, or under a file, is new).
    follow_links False: a link is looked up itself, not what it points to."""
    try:
        os.stat(path, follow_symlinks=follow_links)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        return exc.strerror or str(exc)
    except ValueError as exc:
        return str(exc)
    return None


def output_file_problem(path: Path) -> str | None:
    """Why the file `path` cannot be written where it is named, found before the work that makes it (a benchmark,
    a video): "is a folder", "is a symbolic link" (the write would put a file in the link's place and leave what
    it points to as it was), "P is a link to nothing or a loop of links" for such a link P at `path` or on its way,
    or "P is a file, not a folder" for a file P where a folder on its way should be; None when nothing in the way is
    known (space is found when it is written). A name the system refuses to look up is answered in its words
    (refused_name: "File name too long", "embedded null byte", "Permission denied" for a folder on its way)."""
    path = Path(path)
    try:
        if path.is_dir():
            return "is a folder"
        for p in (path, *path.parents):
            if p.is_symlink() and not p.exists():
                return f"{p} is a link to nothing or a loop of links"
        if path.is_symlink():
            return "is a symbolic link; give the file it points to, or a new file"
        blocked = next((p for p in path.parents if p.exists()), None)
    except (OSError, ValueError):
        return refused_name(path, follow_links=False) or refused_name(path)
    if blocked is not None and not blocked.is_dir():
        return f"{blocked} is a file, not a folder"
    return refused_name(path, follow_links=False)  # "embedded null byte", "Permission denied"


def folder_problem(path: Path, what: str) -> str | None:
    """THE sentence for a folder a command reads (`what`: "gallery folder", "folder of layouts") that is none:
    "PATH: is a file, not a WHAT." (a picture given for a gallery had been called missing), "PATH: is a link to
    nothing or a loop of links, not a WHAT.", "PATH: no such WHAT."; None when `path` is a folder (or a link to
    one)."""
    path = Path(path)
    if path.is_dir():
        return None
    if path.is_symlink() and not path.exists():
        return f"{path}: is a link to nothing or a loop of links, not a {what}."
    if path.exists():
        return f"{path}: is a file, not a {what}."
    return f"{path}: no such {what}."


def first_missing(folder: Path) -> Path | None:
    """The highest of `folder` and its parents that does not exist yet (what make_folders will make), or None."""
    folder = Path(folder)
    return next((p for p in reversed([folder, *folder.parents]) if not p.exists()), None)


def _remove_empty(folder: Path, top: Path | None) -> None:
    """Remove `folder` and its parents up to `top` (the first folder a write or a build made for itself) where they
    are empty: a write given up leaves none of its own folders behind, and never one that holds something (another
    job's output put there meanwhile). top None: nothing was made."""
    if top is None:
        return
    for f in (Path(folder), *Path(folder).parents):
        try:
            f.rmdir()
        except OSError:
            return
        if f == top:
            return


def discard_made(folder: Path, top: Path) -> None:
    """Remove `folder`, which a job made (with the parents up to `top`, first_missing's answer before it made
    them), when the job is given up before it holds anything to keep (a training stopped while it starts): the
    folder with what the job put in it, then those parents where they are empty."""
    shutil.rmtree(folder, ignore_errors=True)
    if Path(folder) != Path(top):
        _remove_empty(Path(folder).parent, top)


def atomic_write_bytes(path: Path, write, durable: bool = True) -> None:
    """Write through a temporary file in the same folder, then os.replace: readers never see half a file.

    `write` fills an in-memory buffer, which this function then writes to the temporary file itself: a library
    that writes from C++ or C (torch.save, PyAV) swallows an exception raised in a Python write it calls into an
    opaque error ("unexpected pos ..."), so no Python code runs beneath it. A full disk is an OSError here, and a
    stop signal (Ctrl-C, SIGTERM) during the write is the KeyboardInterrupt its handler raised, whichever part of
    the write it lands in; in every case the temporary file is removed and whatever `path` held is untouched. The
    price: the file is held in memory once while it is written (a checkpoint, a latent walk's video).
    A failed write raises OSError naming `path`; the folders made for it are removed again when still empty (a
    stopped `osmis animate --out new/walk.mp4` leaves no empty new/, nor a run's walks/).
    durable: the data reach the disk (fsync) before the rename, so that a crash cannot leave an empty file behind.
    """
    _write_together([(Path(path), write)], durable)


def atomic_write_text(path: Path, text: str, durable: bool = True) -> None:
    """`text` in UTF-8; a file name in it with bytes that are not UTF-8 (Python holds them as surrogates, Linux
    allows any) is written as those bytes, not refused (a gallery page naming such a run folder, say)."""
    atomic_write_bytes(Path(path), _text_writer(text), durable)


def atomic_write_texts(texts: dict[Path, str], durable: bool = True) -> None:
    """Write several files (path -> text, as atomic_write_text) as one: each to a temporary file beside it, and
    only when all are whole, each renamed into place. A failed write (a full disk) or a stop leaves every one of
    them as it was: a gallery's metrics.json, metrics.csv and page never disagree after a failed evaluation.
    Raises OSError naming the file that could not be written."""
    _write_together([(Path(p), _text_writer(t)) for p, t in texts.items()], durable)


def _text_writer(text: str):
    return lambda f: f.write(text.encode("utf-8", "surrogateescape"))


def _write_together(files: list, durable: bool) -> None:
    """(path, write) pairs of atomic_write_bytes: every temporary first, then every rename (renames need no space,
    so once all temporaries are whole, all files are put in place)."""
    written: list[tuple[str, Path, Path | None]] = []  # (temporary, path, the first folder made for it)
    path = files[0][0]
    try:
        for path, write in files:
            made = first_missing(path.parent)
            make_folders(path.parent)
            try:
                fd, tmp = temporary_file(path)
            except BaseException:
                _remove_empty(path.parent, made)
                raise
            written.append((tmp, path, made))
            os.chmod(tmp, _FILE_MODE)  # mkstemp creates 0600; the result should look like any other file
            with os.fdopen(fd, "wb") as f:
                buffer = io.BytesIO()
                write(buffer)
                f.write(buffer.getbuffer())
                f.flush()
                if durable:
                    os.fsync(f.fileno())
        raise_stop_again()  # a stopped command puts no file in place, even where its interrupt was swallowed
        while written:
            tmp, path, _ = written[0]
            os.replace(tmp, path)
            written.pop(0)
    except BaseException as exc:
        for tmp, where, made in reversed(written):
            try:
                os.unlink(tmp)
            except OSError:
                pass
            _remove_empty(where.parent, made)
        if isinstance(exc, OSError):  # named by the file, not by its temporary (`.NAME.PID_XXXXXXXX.tmp`)
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
        raise


# A staging folder -> the highest of its parents that new_sibling_dir created for it, so that a build given up
# (discard_staging: stopped, failed) leaves no empty folder it made (a run's galleries/) behind.
_MADE_FOR: dict[Path, Path] = {}


def new_sibling_dir(path: Path) -> Path:
    """A new empty hidden folder `.NAME.building-PID-XXXX` beside `path` (same file system, so it can be renamed
    into place; PID: this process's id, clear_leftover_siblings's owner check), with the permissions of an ordinary
    new folder. The parent is created when missing; a build given up
    is removed with discard_staging, which removes the parents made here too."""
    path = Path(path)
    made = first_missing(path.parent)
    make_folders(path.parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.building-{os.getpid()}-", dir=path.parent))
    except BaseException:  # (a name too long for the building folder's): the parents made for it go
        _remove_empty(path.parent, made)
        raise
    os.chmod(tmp, _DIR_MODE)  # mkdtemp creates 0700
    if made is not None:
        _MADE_FOR[tmp] = made
    return tmp


def discard_staging(staging: Path) -> None:
    """Remove a folder of new_sibling_dir that will not be swapped in (the build stopped or failed; nothing when it
    was), and the parents made for it that are still empty: nothing half-made is left."""
    shutil.rmtree(staging, ignore_errors=True)
    _remove_empty(Path(staging).parent, _MADE_FOR.pop(Path(staging), None))


def swap_dir_in(staging: Path, path: Path) -> None:
    """Move the complete folder `staging` to `path`, replacing what was there. Readers see the old folder until
    the first rename and the new one after the second (between the two, for an instant, none); a failure of the
    second rename, or a stop signal (Ctrl-C, SIGTERM) whose interrupt lands between the two, puts the old folder
    back: a stopped command leaves the folder it was to replace where it was, not hidden as `.NAME.old-*`. A stop
    whose interrupt was swallowed earlier (stops.raise_stop_again) is raised before anything is moved: the command
    was stopped, so its folder does not replace the old one."""
    raise_stop_again()
    _MADE_FOR.pop(Path(staging), None)  # the parents it was given hold the swapped-in folder from now on
    if not path.exists():
        os.rename(staging, path)
        return
    old = path.parent / f".{path.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:  # both renames inside: an interrupt is raised when a call returns, the first one's included
        os.rename(path, old)
        os.rename(staging, path)
    except BaseException:
        if not os.path.lexists(path) and os.path.lexists(old):
            os.rename(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def temporary_file(path: Path) -> tuple[int, str]:
    """(fd, name) of a new temporary file `.NAME.PID_XXXXXXXX.tmp` beside `path`, to be renamed onto it (PID: this
    process's id). Temporaries of `path` left by a process that has ended (killed mid-write: kill -9, a power cut)
    are removed first: they carry no process id to tell them from a running command's otherwise, and one of a
    checkpoint or a video is as large as the file. Raises OSError as mkstemp does."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)_[A-Za-z0-9_]+\.tmp")
    for p in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        m = pattern.fullmatch(p.name)
        if m and not _process_alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                p.unlink()
    return tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}_", suffix=".tmp", dir=path.parent)


def _process_alive(pid: int) -> bool:
    """Whether a process of id `pid` runs (this one included)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):  # another user's process runs under that id
        return True
    return True


def _owner_alive(leftover: Path, kind: str) -> bool:
    """Whether the process whose id names `leftover` (`.NAME.KIND-PID-...`) still runs: this one (another build
    of the same gallery in a thread, or an interleaved stream) or another. A name without an id (an earlier
    version's) has no live owner."""
    match = re.search(rf"\.{kind}-(\d+)-[^/]*$", leftover.name)
    return match is not None and _process_alive(int(match.group(1)))


# What swap_dir_in and new_sibling_dir name beside a folder NAME: `.NAME.old-PID-XXXXXXXX`, `.NAME.building-PID-...`.
_LEFTOVER_RE = re.compile(r"^\.(?P<name>.+)\.(?P<kind>old|building)-\d+-[^/]*$")


def clear_leftover_siblings(path: Path) -> None:
    """Undo what a process killed while building or swapping a folder beside `path` left there: `.NAME.building-*`
    folders are removed; a `.NAME.old-*` folder (killed between the two renames of `swap_dir_in`) is put back as
    NAME when NAME is missing, else removed. This is done for `path` and for every other NAME of the same folder
    whose leftovers' owner is gone: a generate killed while it built one gallery of a run left a hidden folder as
    large as that gallery, which stayed until that very gallery was made again. What a process still running is
    building or swapping is left alone: a second build of the same gallery at once (two commands, the app and a
    command) removed the first's folder under it, and the first ended in "No such file or directory"; each
    completes, and the last to finish is the gallery."""
    path = Path(path)
    if not path.parent.is_dir():
        return
    names = {path.name}
    for p in path.parent.iterdir():
        m = _LEFTOVER_RE.match(p.name)
        if m and p.is_dir() and not _owner_alive(p, m.group("kind")):
            names.add(m.group("name"))
    for name in sorted(names):
        _clear_leftovers_of(path.parent / name)


def _clear_leftovers_of(path: Path) -> None:
    name = glob.escape(path.name)
    for p in path.parent.glob(f".{name}.old-*"):
        if _owner_alive(p, "old"):
            continue
        if not path.exists():
            os.rename(p, path)
        else:
            shutil.rmtree(p, ignore_errors=True)
    for p in path.parent.glob(f".{name}.building-*"):
        if not _owner_alive(p, "building"):
            shutil.rmtree(p, ignore_errors=True)


class LockHeld(Exception):
    """Another process (or another open of the same file) holds the lock; `owner` is what it wrote there (its
    process id), or 'unknown'."""

    def __init__(self, owner: str):
        super().__init__(owner)
        self.owner = owner


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock of the operating system on `path` (fcntl.flock, created when missing, holding this
    process's id) for the `with` block; the system lets it go when the process ends however it ends, so a killed
    holder leaves no stale lock. Raises LockHeld when another open of it holds it, OSError when it cannot be
    opened, a symbolic link among them (followed, the holder's id would be written over the file it points to). On a
    file system without locks (some NFS mounts) nothing is locked and the block runs."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o644)
    with open(fd, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise LockHeld(handle.read().strip() or "unknown") from None
        except OSError:
            yield
            return
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lock_holder(path: Path) -> str | None:
    """Who holds `exclusive_lock(path)` now (the process id it wrote, or 'unknown'), or None when nobody does (or
    the file is missing or cannot be read): a check, writing nothing, before a command changes what the holder
    writes."""
    try:
        with open(path, encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return handle.read().strip() or "unknown"
            fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError:
        pass
    return None
