"""The run folder: run.json, atomic single-file checkpoints with a `latest` pointer, stats.jsonl, log.txt."""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import platform
import re
import shlex
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..errors import CheckpointError, DataError, OsmisError
from ..files import (
    LockHeld,
    atomic_write_bytes,
    atomic_write_text,
    exclusive_lock,
    lock_holder,
    make_folders,
    refused_name,
    resolved_path,
)

if TYPE_CHECKING:
    from ..config import OsmisConfig
    from ..data.sources import DataSource

CHECKPOINT_FORMAT = 1
TRAINING_LOCK = ".training.lock"
_CKPT_RE = re.compile(r"^step_(\d+)\.pt$")
# Entries every checkpoint holds, with their types: a file that lacks one is treated as damaged.
CHECKPOINT_FIELDS = {
    "format": int,
    "step": int,
    "config": dict,
    "architecture": dict,
    "num_classes": (int, type(None)),
    "generator": dict,
    "generator_ema": dict,
    "discriminator": dict,
    "opt_g": dict,
    "opt_d": dict,
    "rng": dict,
    "fixed_noise": torch.Tensor,
}
# a renderer's checkpoint (spec/renderer.md) has no fixed noise (its previews use seeds) and a render generator
RENDERER_CHECKPOINT_FIELDS = {
    **{k: v for k, v in CHECKPOINT_FIELDS.items() if k != "fixed_noise"},
    "generator_render": dict,
}
_ARCHITECTURE_FIELDS = ("noise_shape", "num_blocks_g", "height", "width")
# The temporaries atomic_write_bytes makes for the files of a run folder (`.NAME.PID_XXXXXXXX.tmp`).
_TEMP_RE = re.compile(r"^\.(run\.json|stats\.jsonl|latest|best\.(pt|json)|step_\d+\.(pt|png))\.[A-Za-z0-9_]+\.tmp$")


_SAMPLE_RE = re.compile(r"^step_(\d+)\.png$")
# The words a checkpoint may be named by, besides a step number: the newest good one, and --keep-best's.
CHECKPOINT_WORDS = ("latest", "best")


def checkpoint_name(which: str | int, words: tuple[str, ...] = CHECKPOINT_WORDS) -> str | int:
    """THE reading of a checkpoint's name as a user gives it (`--checkpoint` of every command, the app's choice):
    one of `words` ("latest": the newest good checkpoint; "best": the one --keep-best kept) or a step number
    (int, or its decimal text). Surrounding whitespace of a text is ignored, for words and numbers alike (as
    int() ignores it). Raises OsmisError naming --checkpoint for anything else (a renderer run passes
    words=("latest",): it never evaluates, so keeps no best)."""
    if isinstance(which, int) and not isinstance(which, bool) and which >= 0:
        return which
    text = which.strip() if isinstance(which, str) else None
    if text in words:
        return text
    if text is not None and text.isdecimal():
        return int(text)
    accepted = ", ".join(f"'{w}'" for w in words)
    raise OsmisError(f"--checkpoint must be {accepted} or a step number, got '{which}'.")


def check_checkpoint_will_exist(which: str | int, config: OsmisConfig, folder: RunFolder | None = None) -> None:
    """Refuse (OsmisError naming --checkpoint) before training a checkpoint that training with `config` will not
    leave: `which` as read by checkpoint_name. folder: a run being resumed (its checkpoints and best.pt count,
    training going on from its latest step), else a new run from step 0. "best" needs a kept best checkpoint
    (config.keeps_best) and, without one yet, an evaluation within the steps still to train (every eval_every-th
    step); a step number must be one that is saved (every checkpoint_every-th step and the last) and not pruned
    (only the keep_checkpoints newest stay; 0 keeps all). "latest" always exists after training."""
    r = config.run
    start = (folder.latest_step() or 0) if folder is not None else 0
    if which == "best":
        if not config.keeps_best:
            raise OsmisError(
                "--checkpoint best generates from the best checkpoint kept during training, but this run keeps none "
                f"(keep_best {r.keep_best}, eval_every {r.eval_every}); give --keep-best with --eval-every above 0, "
                "or generate from latest."
            )
        has_best = folder is not None and folder.best_checkpoint.is_file()  # what generation loads
        if not has_best and r.iters // r.eval_every == start // r.eval_every:
            raise OsmisError(
                f"--checkpoint best generates from the best checkpoint kept at the evaluations, but none falls in "
                f"steps {start + 1} to {r.iters} (--eval-every {r.eval_every}, --iters {r.iters}); evaluate more "
                f"often, or generate from latest."
            )
        return
    if which == "latest":
        return
    before = [s for s in folder.checkpoint_steps() if s <= start] if folder is not None else []
    new = range((start // r.checkpoint_every + 1) * r.checkpoint_every, r.iters + 1, r.checkpoint_every)
    steps = sorted({*before, *new, *([r.iters] if r.iters > start else [])})
    kept = steps[-r.keep_checkpoints :] if r.keep_checkpoints > 0 else steps
    if which not in kept:
        shown = ", ".join(map(str, kept[:8])) + (", ..." if len(kept) > 8 else "")
        raise OsmisError(
            f"--checkpoint {which}: training keeps checkpoints at steps {shown} (--checkpoint-every "
            f"{r.checkpoint_every}, --iters {r.iters}, --keep-checkpoints {r.keep_checkpoints}), not at step {which}."
        )


def mismatch_reason(exc: BaseException) -> str:
    """Why weights or a state do not fit the model built for them, in plain words on one line: torch's
    load_state_dict error spans lines (missing keys, unexpected keys, size mismatches), so its first case of each
    kind is named; another error gives its first line, whole words only."""
    text = str(exc)
    cases = (
        (r'Missing key\(s\) in state_dict: "([^"]+)"', "'{}' is missing"),
        (r'Unexpected key\(s\) in state_dict: "([^"]+)"', "'{}' is not in the model"),
        (r"size mismatch for ([^:\s]+):", "'{}' has another size"),
    )
    found = [how.format(m.group(1)) for pattern, how in cases if (m := re.search(pattern, text))]
    if found:
        return ", ".join(found)
    if isinstance(exc, KeyError):
        return f"lacks {text}"
    line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return line if len(line) <= 200 else line[:200].rsplit(" ", 1)[0] + " ..."


def append_text(path: Path, text: str) -> None:
    """Append to a log-like file; a failed write (a full disk) is undone and raises OSError naming `path`.

    Appending (not a rewrite through atomic_write_bytes) keeps a long run's log linear in its length; cutting the
    file back to its old size keeps it free of half lines.
    """
    path = Path(path)
    with open(path, "ab") as f:
        size = f.tell()
        try:
            f.write(text.encode("utf-8", "surrogateescape"))  # a file name's bytes as they are (atomic_write_text)
            f.flush()
        except OSError as exc:
            try:
                f.truncate(size)
            except OSError:
                pass
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None


def _utf8(path: Path) -> bool:
    """Whether `path` can be written in UTF-8: torch maps a file (torch.load's mmap) by its name in UTF-8, so a
    checkpoint under a folder named with bytes that are not UTF-8 (Linux allows any) is read whole instead, not
    taken for damaged."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def normalise_path(path: str | Path) -> Path:
    """`path` with `x/..` and `.` parts removed before anything is created: `--out a/b/../../x` makes `x` only,
    never the empty folders `a/b` on the way."""
    return Path(os.path.normpath(path))


def enclosing_run(path: str | Path) -> Path | None:
    """The run folder `path` lies in: the nearest of its parents, up to three levels up, that holds run.json (a
    gallery RUN/galleries/G, a checkpoint RUN/checkpoints/x.pt, a picture RUN/galleries/G/images/x.png); None
    when there is none. A run folder itself is not "in" a run: the caller opens it as it is. A link (a gallery
    linked onto the desktop) is looked for where it is, then where it points."""
    p = Path(os.path.abspath(path))
    for parent in list(p.parents)[:3] + list(resolved_path(p).parents)[:3]:
        if (parent / "run.json").is_file():
            return parent
    return None


def in_run_files(path: str | Path) -> Path | None:
    """The folder of a run's own files (RunFolder.own_folders: RUN/checkpoints, RUN/galleries, ...) that `path` is
    or lies in, at any depth; None when there is none. No new run goes there: its files would mix with the run's
    (`osmis train DATA --out RUN/checkpoints/x` trained a run among the checkpoints). A run's other sub-folders are
    no such place: a two-stage job trains its renderer as a run of its own in RUN/renderer. A link is looked for
    where it is, then where it points."""
    p = Path(os.path.abspath(path))
    for q in dict.fromkeys((p, resolved_path(p))):
        for parent in q.parents:
            try:
                holds_run = (parent / "run.json").is_file()
            except OSError:  # a name on the way the system refuses to look up: said by whoever writes there
                holds_run = False
            if holds_run:
                own = next((f for f in RunFolder(parent).own_folders() if q.is_relative_to(f)), None)
                if own is not None:
                    return own
    return None


# What each kind of output is called in the sentence that refuses its place (output_place_problem).
_OUTPUT_NOUNS = {
    "gallery": "the gallery",
    "walk": "the latent walk",
    "file": "the file",
    "run": "the new run",
    "batch": "the batch",
}


def output_place_problem(path: str | Path, makes: str) -> str | None:
    """THE rule of where a command's output may go, for every command and the app (generate, render, export, animate,
    a saved layout or options file, a benchmark's JSON, a new run, a batch): why `path` may not hold an output that
    makes "gallery" (a gallery folder), "walk" (a latent walk's video), "file" (any other file), "run" (a new run
    folder) or "batch" (a batch folder); None when it may. Refused: a place in a run's own folders
    (RunFolder.own_folders) other than the output's own (a gallery strictly inside RUN/galleries, a walk strictly
    inside RUN/walks; checkpoints/, samples/ and tensorboard/ hold what training writes there and nothing else), and
    a place inside a gallery (holds_gallery: the one the command reads, or any other), which would
    then hold files not its own and could no longer be replaced. The answer is said after the path ("PATH: is inside
    ..."). A link is looked for where it is, then where it points."""
    noun = _OUTPUT_NOUNS[makes]
    p = Path(os.path.abspath(path))
    places = dict.fromkeys((p, resolved_path(p)))
    own = in_run_files(p)
    if own is not None:
        run = RunFolder(own.parent)
        home = {"gallery": run.galleries, "walk": run.walks}.get(makes)
        if own != home or own in places:
            # "in RUN/galleries" misread as that folder itself, which is the one refused when --out names it
            where = f"in a folder inside {home} or outside the run" if home else "outside the run's own folders"
            verb = "is" if own in places else "is inside"
            return f"{verb} {own}, a folder of the run's own files; put {noun} {where}"
    for q in places:
        for parent in q.parents:
            if holds_gallery(parent):
                return f"is inside the gallery {parent}, which would then hold files not its own; put {noun} outside it"
    return None


def holds_gallery(folder: Path) -> bool:
    """Whether `folder` holds a gallery: a manifest.json that is no other program's, i.e. not a JSON object without
    the gallery's "items" list (a web app's or a data set's manifest.json in a project folder made every output
    under it "inside a gallery"). A manifest that cannot be read or parsed counts as a damaged gallery's."""
    path = folder / "manifest.json"
    try:
        if not path.is_file():
            return False
    except OSError:  # a name on the way the system refuses to look up: said by whoever writes there
        return False
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return True
    return not isinstance(manifest, dict) or "items" in manifest


# What a run folder holds besides run.json: a folder with one of these and no run.json lost its run.json.
_RUN_FOLDER_SIGNS = ("checkpoints", "stats.jsonl")


def _orphan_signs(path: str | Path) -> list[str]:
    """The run-folder entries (checkpoints/ holding files, stats.jsonl) of a folder without run.json; [] when it
    holds run.json, none of them, or is no folder. A start killed before its run.json was written (RunFolder.create
    makes the folders first) leaves checkpoints/ empty but for temporaries: no run is lost there, and a new start
    in it (session.start_training) removes them."""
    p = Path(path)
    if not p.is_dir() or (p / "run.json").is_file():
        return []
    signs = []
    for name in _RUN_FOLDER_SIGNS:
        entry = p / name
        if entry.is_dir():
            try:
                if any(not _TEMP_RE.match(e.name) for e in entry.iterdir()):
                    signs.append(f"{name}/")
            except OSError:  # a folder that cannot be listed: it may hold a run's files
                signs.append(f"{name}/")
        elif entry.exists():
            signs.append(name)
    return signs if signs and not _holds_data(p) else []


def _holds_data(folder: Path) -> bool:
    """The folder is training data as DATA is read (a run folder never is: its pictures lie in subfolders): one
    that also holds a file named stats.jsonl is still data, not a run folder that lost its run.json."""
    from ..data.sources import find_source

    try:
        find_source(folder)
    except OsmisError:
        return False
    return True


def _run_json_missing(path: str | Path, signs: list[str], instead: str = "") -> str:
    return (
        f"{path}: looks like a run folder whose run.json is missing (it holds {' and '.join(signs)}, but no "
        f"run.json); put its run.json back to use the run{instead}."
    )


def run_json_missing(path: str | Path, instead: str = "") -> str | None:
    """The sentence for a folder that lost its run.json (it still holds checkpoints/ or stats.jsonl), None for any
    other: for whoever would resume it (not a run to resume) or start a new run in it (over the lost run's files).
    instead: the other way out, said after "put its run.json back to use the run"."""
    signs = _orphan_signs(path)
    return _run_json_missing(path, signs, instead) if signs else None


def run_folder_as_data(path: str | Path) -> DataError | None:
    """The error for DATA that is a run folder, not training data (None: it is none): one with run.json (continue
    it with --resume), or one whose run.json is missing (it still holds checkpoints/, stats.jsonl). For every face
    that reads DATA (train, run, the app's open and drop), instead of "the folder holds no images"."""
    if (Path(path) / "run.json").is_file():
        return DataError(
            f"{path}: is a run folder (it holds run.json), not training data; continue it with `osmis train "
            f"{shlex.quote(str(path))} --resume`."
        )
    signs = _orphan_signs(path)
    return DataError(_run_json_missing(path, signs, ", or give a folder of training images")) if signs else None


def find_data(path: str | Path, mask: str | Path | None = None) -> DataSource:
    """The engine's `find_source` for DATA the user gave, with a run folder refused as one (`run_folder_as_data`)
    instead of as a folder that holds no images."""
    from ..data.sources import find_source

    try:
        return find_source(path, mask)
    except DataError:
        error = run_folder_as_data(path)
        if error is not None:
            raise error from None
        raise


def run_reads(run_dir: str | Path, path: str | Path) -> str | None:
    """What the run in `run_dir` would lose if `path` were written over: "the run's own files" (an existing file
    inside the run folder: run.json, a checkpoint, a gallery's picture; its latent walks, outputs to be replaced,
    aside) or "the run's training data" (its image, video or mask files as run.json records them, or any file inside
    a data folder, where a new mask would join the data); None when the path is neither. A run.json that cannot be
    read protects the run folder alone. For outputs the user names (a saved layout, a latent walk's --out)."""
    target, root = resolved_path(Path(path)), resolved_path(Path(run_dir))
    if _exists(target) and (
        (_within(target, root) and not _within(target, RunFolder(root).walks)) or _linked_into(target, root)
    ):
        return "the run's own files"
    try:
        data = RunFolder(root).read_run_json().get("data") or {}
    except OsmisError:
        return None
    source = recorded_source(data)
    listed = [source.get("path"), source.get("video"), data.get("path"), data.get("mask_path")]
    masks = source.get("masks")
    listed += masks if isinstance(masks, list) else []
    if source.get("kind") == "video" and isinstance(masks, list):
        # a video's masks are every image of their folder, in name order: a file new there joins them
        listed += [str(Path(p).parent) for p in masks if isinstance(p, str) and p]
    for p in listed:
        if not isinstance(p, str) or not p:  # absent, or a hand edit: nothing to protect by it
            continue
        q = resolved_path(Path(p))
        if target == q or _same_file(target, q) or (q.is_dir() and _within(target, q)):
            return "the run's training data"
    return None


# Paths are compared resolved and, where the files exist, by identity (device and inode): on a case-insensitive
# file system (macOS, Windows) RUN/Run.JSON or a case-variant of a training mask's name is the same file under
# another name, as a hard link is everywhere.


def _exists(path: Path) -> bool:
    """Path.exists, False for a name the system refuses to look up (files.refused_name: a name past 255 bytes
    raised OSError out of the Save slot; writing it then says why in a sentence)."""
    return refused_name(path) is None and path.exists()


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (or cannot be looked at): not the same file
        return False


def _within(target: Path, folder: Path) -> bool:
    """`target` is `folder` or lies in it: by its resolved path, or by the identity of it or a parent of it."""
    if target.is_relative_to(folder):
        return True
    return folder.exists() and any(_same_file(p, folder) for p in (target, *target.parents))


def _linked_into(target: Path, root: Path) -> bool:
    """`target` is a hard link to a file of the run folder (another name of one of its files, outside it)."""
    try:
        st = target.stat()
    except OSError:
        return False
    if not target.is_file() or st.st_nlink < 2:  # a file with one name has no other name in the run
        return False
    for folder, dirs, files in os.walk(root):
        if Path(folder) == root:
            dirs[:] = [d for d in dirs if d != "walks"]
        for name in files:
            try:
                other = os.stat(os.path.join(folder, name))
            except OSError:
                continue
            if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
                return True
    return False


def recorded_source(data: dict) -> dict:
    """run.json's data source (data["source"]: kind, path, masks, video) with absolute paths. Runs of earlier
    versions recorded them as given, relative to the folder training was started in, which is not recorded; it is
    found from data["path"] (recorded absolute): the folder from which the source's path names that file."""
    source = dict(data.get("source") or {})
    given, full = source.get("path"), data.get("path")
    if not isinstance(given, str) or not given or Path(given).is_absolute() or not isinstance(full, str):
        return source
    full_path = Path(full)
    base = next((a for a in full_path.parents if resolved_path(a / given) == resolved_path(full_path)), None)
    if base is None:
        return source

    def absolute(p):
        return str(resolved_path(base / p)) if isinstance(p, str) and p else p

    source["path"], source["video"] = absolute(given), absolute(source.get("video"))
    if isinstance(source.get("masks"), list):
        source["masks"] = [absolute(p) for p in source["masks"]]
    return source


def versions() -> dict[str, str]:
    from .. import __version__

    return {"osmis": __version__, "torch": torch.__version__, "python": platform.python_version()}


# The entries of run.json that commands and the app read, with what osmis writes there (None: null), each held to
# its kind when present (a hand edit that changes one is refused in one sentence naming it, rather than met as a
# traceback where it is used: a text `resume_changes` ended a resume, an int `data.path` the data's loading);
# a list's items to the kind after it. A whole number is never a JSON true/false.
_RUN_JSON_FIELDS: dict[str, tuple[tuple[type, ...], type | None]] = {
    "config": ((dict, type(None)), None),
    "data": ((dict, type(None)), None),
    "architecture": ((dict, type(None)), None),
    "resume_changes": ((list,), dict),
    "rollbacks": ((list,), dict),
    "data.path": ((str,), None),
    "data.mask_path": ((str, type(None)), None),
    "data.num_classes": ((int, type(None)), None),
    "data.source": ((dict, type(None)), None),
    "data.source.path": ((str, type(None)), None),
    "data.source.video": ((str, type(None)), None),
    "data.source.masks": ((list, type(None)), str),
    "architecture.height": ((int,), None),
    "architecture.width": ((int,), None),
    "architecture.num_blocks_g": ((int,), None),
    "architecture.noise_shape": ((list,), int),
}
_KIND_WORDS = {dict: "a JSON object", list: "a list", str: "a text", int: "a whole number"}


def _wrong_run_json_field(info: dict) -> str | None:
    """What is wrong with the first entry of run.json `info` that is not of its kind (_RUN_JSON_FIELDS), in words
    ("'data.path' is not a text"); None when each entry present is of its kind."""

    def of_kind(value, kinds) -> bool:
        return isinstance(value, kinds) and not isinstance(value, bool)

    for name, (kinds, items) in _RUN_JSON_FIELDS.items():
        *parents, key = name.split(".")
        holder = info
        for part in parents:
            holder = holder.get(part) if isinstance(holder, dict) else None
        if not isinstance(holder, dict) or key not in holder:
            continue
        value = holder[key]
        if not of_kind(value, kinds):
            allowed = " or ".join(_KIND_WORDS[k] for k in kinds if k is not type(None))
            return f"'{name}' is not {allowed}"
        if items is not None and isinstance(value, list) and not all(of_kind(v, (items,)) for v in value):
            return f"'{name}' holds an item that is not {_KIND_WORDS[items]}"
    return None


class RunFolder:
    """Paths and files of one training run."""

    def __init__(self, root: str | Path):
        self.root = normalise_path(root)

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def galleries(self) -> Path:
        """RUN/galleries: every gallery made from this run (by `osmis run`, `osmis generate` or the app)."""
        return self.root / "galleries"

    @property
    def walks(self) -> Path:
        """RUN/walks: the latent-walk videos made from this run (`walk_path` names each)."""
        return self.root / "walks"

    def walk_path(self, step: int, seed: int) -> Path:
        """THE file of a latent walk from the checkpoint of `step` with noise seed `seed`."""
        return self.walks / f"step_{step:07d}-seed{seed}.mp4"

    def gallery_dirs(self) -> list[Path]:
        """The galleries of the run (sub-folders of `galleries` that hold a manifest.json), newest first."""
        if not self.galleries.is_dir():
            return []
        found = [p for p in self.galleries.iterdir() if not p.name.startswith(".") and (p / "manifest.json").is_file()]
        found.sort(key=lambda p: (p / "manifest.json").stat().st_mtime, reverse=True)
        return found

    def sample_files(self) -> list[tuple[int, Path]]:
        """(step, path) of the preview grids in `samples`, by step."""
        if not self.samples.is_dir():
            return []
        return sorted((int(m.group(1)), p) for p in self.samples.iterdir() if (m := _SAMPLE_RE.match(p.name)))

    @property
    def stats(self) -> Path:
        return self.root / "stats.jsonl"

    @property
    def log_file(self) -> Path:
        return self.root / "log.txt"

    @property
    def tensorboard(self) -> Path:
        """TensorBoard event files (--tensorboard): `tensorboard --logdir RUN/tensorboard`."""
        return self.root / "tensorboard"

    @property
    def two_stage_renderer(self) -> Path:
        """The run folder of the layout renderer that `osmis run --two-stage` trains beside this OSMIS run (a run of
        its own, spec/renderer.md section 5: not one of own_folders, so a new run may be made there)."""
        return self.root / "renderer"

    def own_folders(self) -> tuple[Path, ...]:
        """THE folders the run writes its own files into (no new run may be made in one: in_run_files)."""
        return (self.checkpoints, self.samples, self.galleries, self.walks, self.tensorboard)

    def exists(self) -> bool:
        """Whether the folder holds a run (run.json); False for a name the system refuses to look up (files.
        refused_name): no run is there (`osmis run --out NAME` past 255 bytes named NAME/run.json, not NAME)."""
        return refused_name(self.run_json) is None and self.run_json.is_file()

    def require(self, to_resume: bool = False, instead: str = "") -> None:
        """Refuse a folder that holds no run (OsmisError): a missing one, or one without run.json (data, a gallery),
        in the sentence every command that reads a run (generate, render, animate, --layouts-from) or resumes one
        (`train --resume`, `run --resume`: to_resume) gives. instead: the other way out, said last ("leave out
        --resume to start it"); by default, to give the folder that holds run.json where the folder is no run."""
        what = " to resume" if to_resume else ""
        if self.root.exists() and not self.root.is_dir():  # run.json itself, say: there, but no folder
            raise OsmisError(f"{self.root}: a file, not a run folder{what}; give the folder that holds run.json.")
        if not self.root.is_dir():
            raise OsmisError(f"{self.root}: no such run folder{what}{f'; {instead}' if instead else ''}.")
        if not self.exists():
            signs = _orphan_signs(self.root)
            if signs:
                raise OsmisError(_run_json_missing(self.root, signs))
            way_out = instead or "give the folder that holds run.json"
            raise OsmisError(f"{self.root}: not a run folder (no run.json){what}; {way_out}.")

    def create(self) -> None:
        """Make the folders, checking that the location is writable."""
        try:
            for d in (self.root, self.checkpoints, self.samples):
                make_folders(d)
            probe = self.root / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise OsmisError(f"{self.root}: the output folder cannot be written ({exc.strerror or exc}).") from None

    def write_run_json(self, info: dict[str, Any]) -> None:
        atomic_write_text(self.run_json, json.dumps(info, indent=2) + "\n")

    def read_run_json(self) -> dict[str, Any]:
        try:
            info = json.loads(self.run_json.read_text(encoding="utf-8"))
        except FileNotFoundError:
            signs = _orphan_signs(self.root)
            raise CheckpointError(
                _run_json_missing(self.root, signs) if signs else f"{self.root}: not a run folder (no run.json)."
            ) from None
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{self.run_json}: cannot be read ({exc}).") from None
        if not isinstance(info, dict):  # JSON, but not what osmis writes (a hand edit): every reader expects keys
            raise CheckpointError(f"{self.run_json}: cannot be read (not a JSON object).")
        wrong = _wrong_run_json_field(info)
        if wrong is not None:
            raise CheckpointError(f"{self.run_json}: cannot be read ({wrong}); was it edited by hand?")
        return info

    def training_size(self) -> tuple[int, int] | None:
        """(h, w) the run trains and generates at, from run.json's data description; None where it does not say
        (a run.json edited by hand)."""
        return self._recorded_size("resolution")

    def original_size(self) -> tuple[int, int] | None:
        """(W, H) of the data the run was trained on, before the model sized it, from run.json's data description;
        None where it does not say."""
        return self._recorded_size("original_size")

    def _recorded_size(self, key: str) -> tuple[int, int] | None:
        size = (self.read_run_json().get("data") or {}).get(key)
        ok = isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)
        return (size[0], size[1]) if ok else None

    def log(self, message: str) -> None:
        append_text(self.log_file, f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")

    def append_stats(self, record: dict[str, Any]) -> None:
        append_text(self.stats, json.dumps(record) + "\n")

    @property
    def training_lock(self) -> Path:
        """RUN/.training.lock: held (files.exclusive_lock) while a process trains the run."""
        return self.root / TRAINING_LOCK

    @contextlib.contextmanager
    def training(self) -> Iterator[None]:
        """Hold the run's training lock for the `with` block (start_training and resume_training take it for the
        trainer they make, which holds it until its run() ends or it is closed: Trainer.close): two trainings of
        one run at once (two `osmis train RUN --resume`, a terminal's and the app's "Continue run", two starts of
        one new folder before either trains) would write one run's checkpoints and stats in turn. Raises
        OsmisError naming the run when another training holds it."""
        self._holder()  # a trainer this process dropped without closing it lets go first
        locked = False
        try:
            with exclusive_lock(self.training_lock):
                locked = True
                yield
        except LockHeld as held:
            raise self._being_trained(held.owner) from None
        except OSError as exc:
            if locked:  # the training's own error, not the lock's
                raise
            if os.path.lexists(self.training_lock):  # a folder, a link, a file the user can see and remove
                raise OsmisError(
                    f"{self.training_lock}: cannot be opened as the run's training lock ({exc.strerror or exc}); "
                    f"remove it (no training of the run is running) and run this command again."
                ) from None
            raise OsmisError(f"{self.root}: the run folder cannot be written ({exc.strerror or exc}).") from None

    def check_not_training(self) -> None:
        """Refuse (OsmisError naming the run) while another process trains it, before a command changes its files
        (a resume removes temporaries and cuts stats.jsonl back to its checkpoint); writes nothing."""
        owner = self._holder()
        if owner is not None:
            raise self._being_trained(owner)

    def _holder(self) -> str | None:
        """Who holds the training lock (lock_holder). A trainer of this process that a library caller dropped
        without running or closing it still holds its run until the garbage collector frees it (a trainer's parts
        refer to each other): that is done now, before this process is said to train the run."""
        owner = lock_holder(self.training_lock)
        if owner == str(os.getpid()):
            gc.collect()
            owner = lock_holder(self.training_lock)
        return owner

    def _being_trained(self, owner: str) -> OsmisError:
        if owner == str(os.getpid()):  # a library caller's (or the app's) own trainer, not yet ended or closed
            return OsmisError(
                f"{self.root}: the run is being trained in this process (a trainer made by start_training or "
                f"resume_training whose training has not ended: let its run() finish, stop it with "
                f"TrainControl.request_stop() or close its iterator, or close() a trainer that will not run), then "
                f"try again."
            )
        return OsmisError(
            f"{self.root}: the run is being trained by another process (process {owner}); wait for it to end or "
            f"stop it, then run this command again."
        )

    def remove_temporaries(self) -> list[Path]:
        """Delete the temporary files that writes killed mid-way left behind (`.NAME.PID_XXXXXXXX.tmp` of the run's
        own files only); return them."""
        removed = []
        for folder in (self.root, self.checkpoints, self.samples):
            if folder.is_dir():
                for p in [p for p in folder.iterdir() if _TEMP_RE.match(p.name)]:
                    try:
                        p.unlink()
                        removed.append(p)
                    except OSError:
                        pass
        return removed

    def clear_for_restart(self) -> None:
        """Empty a run that never saved a checkpoint (killed before its first) so it can start again in place:
        samples, stats, temporaries and a best checkpoint kept at an evaluation before the kill (evaluations can
        come before the first checkpoint: quick evaluates every 100 steps, checkpoints every 500) go, so that the
        new start neither measures its evaluations against that best nor leaves it as `best`; log.txt is kept and
        says so."""
        self.remove_temporaries()
        self.best_checkpoint.unlink(missing_ok=True)
        self.best_json.unlink(missing_ok=True)
        if self.samples.is_dir():
            for p in self.samples.iterdir():
                if p.is_file():
                    p.unlink()
        self.stats.unlink(missing_ok=True)

    def read_stats(self) -> list[dict[str, Any]]:
        if not self.stats.is_file():
            return []
        rows = []
        # bytes that are not UTF-8 (a damaged disk block) spoil their line only, as in batch's summary
        for line in self.stats.read_bytes().decode("utf-8", "replace").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash
            step = row.get("step") if isinstance(row, dict) else None
            if isinstance(step, int) and not isinstance(step, bool):  # every line osmis writes has its step
                rows.append(row)
        return rows

    def truncate_stats(self, step: int) -> None:
        """Drop the loss and evaluation lines past `step`: the steps abandoned when training goes back to the
        checkpoint of `step` (a resume, a rollback), which are trained again, so that each step has one line.
        Health lines are kept where they are: they are the record of the fault that stopped the run or caused
        the rollback (whose steps are then followed by the retrained ones)."""
        rows = [r for r in self.read_stats() if r.get("step", 0) <= step or r.get("event") == "health"]
        atomic_write_text(self.stats, "".join(json.dumps(r) + "\n" for r in rows))

    # -- checkpoints ---------------------------------------------------------------------------------------
    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoints / f"step_{step:07d}.pt"

    def checkpoint_steps(self) -> list[int]:
        if not self.checkpoints.is_dir():
            return []
        return sorted(
            int(m.group(1)) for p in self.checkpoints.iterdir() if (m := _CKPT_RE.match(p.name)) and p.is_file()
        )

    def save_checkpoint(self, state: dict[str, Any], step: int, keep: int) -> Path:
        path = self.checkpoint_path(step)
        atomic_write_bytes(path, lambda f: torch.save(state, f))
        atomic_write_text(self.checkpoints / "latest", path.name + "\n")
        if keep > 0:
            for old in self.checkpoint_steps()[:-keep]:
                self.checkpoint_path(old).unlink(missing_ok=True)
        return path

    @property
    def best_checkpoint(self) -> Path:
        """The `best` checkpoint (--keep-best): outside the step_*.pt series, so never pruned."""
        return self.checkpoints / "best.pt"

    @property
    def best_json(self) -> Path:
        return self.checkpoints / "best.json"

    def save_best(self, state: dict[str, Any], record: dict[str, Any]) -> Path:
        """Write best.pt, then best.json (step, metric, value, all metrics) describing it."""
        atomic_write_bytes(self.best_checkpoint, lambda f: torch.save(state, f))
        atomic_write_text(self.best_json, json.dumps(record, indent=2) + "\n")
        return self.best_checkpoint

    def read_best(self) -> dict[str, Any] | None:
        """best.json's record, or None when the run keeps no best checkpoint (yet) or the record is damaged (not
        the step and value osmis writes): the next evaluation then keeps a new best."""
        try:
            record = json.loads(self.best_json.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict):
            return None
        step, value = record.get("step"), record.get("value")
        if not isinstance(step, int) or isinstance(step, bool):
            return None
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            return None
        return record

    def discard_after(self, step: int) -> None:
        """Delete the step checkpoints after `step` and point `latest` at `step` (a rollback)."""
        for later in (s for s in self.checkpoint_steps() if s > step):
            self.checkpoint_path(later).unlink(missing_ok=True)
        atomic_write_text(self.checkpoints / "latest", self.checkpoint_path(step).name + "\n")

    def latest_step(self) -> int | None:
        pointer = self.checkpoints / "latest"
        if pointer.is_file():
            m = _CKPT_RE.match(pointer.read_text(encoding="utf-8").strip())
            if m and self.checkpoint_path(int(m.group(1))).is_file():
                return int(m.group(1))
        steps = self.checkpoint_steps()
        return steps[-1] if steps else None

    def load_checkpoint(
        self, which: str | int = "latest", map_location="cpu", fallback: bool = True, mmap: bool = False
    ) -> dict[str, Any]:
        """Load a checkpoint ("latest", "best" or a step number) safely (weights_only). "latest" is the newest
        readable checkpoint: a kill between a checkpoint's rename and the `latest` update leaves the pointer one
        behind, and the newer file is whole. With fallback, a damaged one (unreadable, lacking fields, non-finite
        generator weights) gives way to the previous good one (with a warning). mmap: tensors are read from the file
        when used. `which` is read by checkpoint_name. Raises CheckpointError naming the file and, for one that
        cannot be read, why in plain words."""
        paths = self.checkpoint_files(which)
        errors = []
        info = self.read_run_json() if self.run_json.is_file() else None
        for path in paths if fallback else paths[:1]:
            try:
                state = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap and _utf8(path))
            except OSError as exc:
                errors.append(f"{path}: cannot be read ({exc.strerror or exc})")
                continue
            except Exception:  # noqa: BLE001 - torch's unpickling/zip errors: the bytes are not a checkpoint
                # (torch's own text advises whoever saved the file, not the user who has it)
                errors.append(
                    f"{path}: damaged checkpoint (not a file PyTorch can read safely: cut short, overwritten or "
                    "not written by osmis)"
                )
                continue
            try:
                check_checkpoint(state)
            except Exception as exc:  # noqa: BLE001 - a loaded file that is not a whole checkpoint
                why = str(exc) if isinstance(exc, _Incomplete) else mismatch_reason(exc)
                errors.append(f"{path}: damaged checkpoint ({why})")
                continue
            self._check_model(state, info)  # run.json's fault, not the checkpoint's: no fallback
            try:
                _check_belongs(state, path, info)
            except Exception as exc:  # noqa: BLE001 - a whole checkpoint, of another run
                why = str(exc) if isinstance(exc, _Incomplete) else mismatch_reason(exc)
                errors.append(f"{path}: damaged checkpoint ({why})")
                continue
            if errors:
                warnings.warn(f"{errors[0]}; using the previous good checkpoint {path.name}", stacklevel=2)
            return state
        raise CheckpointError(errors[0] + ("; no earlier good checkpoint" if len(paths) > 1 else "") + ".")

    def _check_model(self, state: dict, info: dict | None) -> None:
        """Raise CheckpointError when run.json names another model than the checkpoint holds (run.json edited by
        hand): every face reads the run's kind from run.json, so it would build the wrong model for the weights, or
        blame the checkpoint. Checked here, where every reader of checkpoints passes, once."""
        if not info or not isinstance(info.get("config"), dict):
            return
        from ..config import OsmisConfig, flatten_options

        try:
            listed = OsmisConfig.from_dict(info["config"], str(self.run_json), {}).model
            says = "model" in flatten_options(info["config"], str(self.run_json))
        except OsmisError:
            return  # a run.json that cannot be read is refused, in its own words, by whoever needs its settings
        held = state.get("model", "osmis")
        if listed != held:
            # a "model" taken out is read as the default: said so, not as if run.json said it
            said = f'says "model": {json.dumps(listed)}' if says else f'names no "model" (read as {json.dumps(listed)})'
            raise CheckpointError(
                f"{self.run_json}: {said}, but the run's checkpoints hold the "
                f'{"OSMIS" if held == "osmis" else held} model ("model": {json.dumps(held)}); put that back in '
                "run.json (it was edited by hand)."
            )

    def checkpoint_files(self, which: str | int = "latest") -> list[Path]:
        """The checkpoint files a name (see checkpoint_name) stands for, the one to use first: "latest" lists every
        step checkpoint, newest first (the fallbacks of a damaged one). Raises CheckpointError when there is none."""
        which = checkpoint_name(which)
        if which == "best":
            if not self.best_checkpoint.is_file():
                raise CheckpointError(
                    f"{self.best_checkpoint}: the run kept no best checkpoint (it is written "
                    f"at evaluations, see --eval-every and --keep-best)."
                )
            paths = [self.best_checkpoint]
        elif which == "latest":
            steps = self.checkpoint_steps()
            if not steps:
                raise CheckpointError(f"{self.checkpoints}: the run has no checkpoint yet.")
            paths = [self.checkpoint_path(s) for s in reversed(steps)]
        else:
            step = which
            if not self.checkpoint_path(step).is_file():
                have = ", ".join(map(str, self.checkpoint_steps())) or "none"
                raise CheckpointError(f"{self.checkpoint_path(step)}: no checkpoint at step {step} (have: {have}).")
            paths = [self.checkpoint_path(step)]
        return paths


def _check_belongs(state: dict, path: Path, info: dict | None) -> None:
    """Raise _Incomplete when a checkpoint is not this run's: another model size or class count than run.json
    records, or (for a step file) another step than its name says (a file copied in from another run)."""
    m = _CKPT_RE.match(path.name)
    if m and int(state["step"]) != int(m.group(1)):
        raise _Incomplete(f"it holds step {state['step']}, not the step of its name: a file of another run")
    if not info:
        return
    mine, theirs = info.get("architecture") or {}, state["architecture"]

    def plain(v):  # run.json holds lists where the checkpoint may hold tuples
        return list(v) if isinstance(v, (list, tuple)) else v

    for key in _ARCHITECTURE_FIELDS:
        if key in mine and plain(mine[key]) != plain(theirs.get(key)):
            raise _Incomplete(f"made by another run: {key} {theirs.get(key)} where this run has {mine[key]}")
    classes = (info.get("data") or {}).get("num_classes", state["num_classes"])
    if classes != state["num_classes"]:
        raise _Incomplete(f"made by another run: {state['num_classes']} classes where this run has {classes}")
    # the options no resume may change (the model's widths, its losses, the seed): a checkpoint of a run of another
    # --ch-g has this run's architecture fields, and generation used its weights as this run's without a word
    from ..config import RESUMABLE_OPTIONS, OsmisConfig

    try:
        listed = OsmisConfig.from_dict(info["config"], "run.json", {}).flat() if info.get("config") else None
    except OsmisError:
        listed = None  # run.json's own fault, said in its words by whoever needs its settings
    if listed:
        held = OsmisConfig.from_dict(state["config"], "its config", {}).flat()
        other = next((k for k in listed if k not in RESUMABLE_OPTIONS and held.get(k) != listed[k]), None)
        if other is not None:
            raise _Incomplete(
                f"made by another run: {other} {json.dumps(held.get(other))} where this run has "
                f"{json.dumps(listed[other])}"
            )


class _Incomplete(ValueError):
    """A checkpoint that loads but is not a whole OSMIS checkpoint."""


def check_checkpoint(state: Any) -> None:
    """Raise ValueError unless `state` has every field of an OSMIS checkpoint, of the right type, and finite
    generator weights (a NaN generator would write black galleries)."""
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise _Incomplete("not an OSMIS checkpoint")
    renderer = state.get("model") == "renderer"
    for key, kind in (RENDERER_CHECKPOINT_FIELDS if renderer else CHECKPOINT_FIELDS).items():
        if key not in state:
            raise _Incomplete(f"lacks '{key}'")
        if not isinstance(state[key], kind) or isinstance(state[key], bool):
            raise _Incomplete(f"'{key}' has the wrong type {type(state[key]).__name__}")
    missing = [k for k in _ARCHITECTURE_FIELDS if k not in state["architecture"]]
    if missing:
        raise _Incomplete(f"'architecture' lacks '{missing[0]}'")
    from ..config import OsmisConfig

    try:
        OsmisConfig.from_dict(state["config"], "its config", {})  # an outdated count is no damage
    except OsmisError as exc:
        raise _Incomplete(str(exc).rstrip(".")) from None
    for key in ("generator", "generator_ema") + (("generator_render",) if renderer else ()):
        for name, t in state[key].items():
            if not isinstance(t, torch.Tensor):
                raise _Incomplete(f"'{key}.{name}' is not a tensor")
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                raise _Incomplete(f"'{key}.{name}' holds NaN or infinite weights")
