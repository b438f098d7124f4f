"""The sources of a batch: one training set (image + mask, or video + masks) per entry, with option overrides."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..application.runfolder import run_folder_as_data
from ..config import (
    FIELDS,
    OUTPUT_ONLY_OPTIONS,
    OsmisConfig,
    expand_user,
    flag_as_given,
    flatten_options,
    option_maximum,
    option_type,
    parse_number,
)
from ..data.sources import VIDEO_EXTS, data_files, find_source, video_mask_folder
from ..errors import ConfigError, DataError, OsmisError
from ..files import resolved_path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# the longest source name: a file name holds 255 bytes, and a name becomes dataset/images/<name>_<index>.png and
# that file's temporary name (.<name>_<index>.png.PID_XXXXXXXX.tmp) while the dataset is merged
NAME_LIMIT = 200


@dataclass(frozen=True)
class BatchSource:
    """One source: what one run trains on.

    name: the run's folder name under BATCH/runs/ (letters, digits, '.', '_', '-'; unique in the batch).
    data: image file, video file or DATA folder (absolute). mask: its mask file/folder, or None.
    options: flat option overrides for this source only (validated names), applied over the batch's config.
    problem: set when the source cannot be used as listed (e.g. an image without its mask); it is then reported
    in the summary and not trained.
    """

    name: str
    data: Path
    mask: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "data": str(self.data),
            "mask": str(self.mask) if self.mask else None,
            "options": dict(self.options),
            "problem": self.problem,
        }

    @classmethod
    def from_dict(cls, d: dict) -> BatchSource:
        return cls(
            d["name"],
            Path(d["data"]),
            Path(d["mask"]) if d.get("mask") else None,
            dict(d.get("options") or {}),
            d.get("problem"),
        )


def list_sources(
    path: str | Path,
    resolve: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    runs: str | Path | None = None,
) -> list[BatchSource]:
    """The sources held by SOURCES, in a stable order, named (names decide the run folders, so a re-run finds them).

    SOURCES is one of:
    - a research-layout folder with many images: `image/` + `mask/` with the same stems; each pair is a source
      named after the stem (an image without its mask is a source with a problem, reported, not trained);
    - a folder of videos: each video is a source, with its mask folder `<stem>_mask/` or `mask/<stem>/` if present
      (a single video may use `mask/` itself, as in a one-video DATA folder; a video without one where others have
      theirs is a source with a problem, as an image without its mask); DATA folders (with an `image/`
      subfolder) beside them are sources too;
    - a JSON file: a list (or {"sources": [...]}) of {"data": PATH, "mask": PATH, "name": NAME, "options": {...}};
    - a CSV file with a header: columns data, mask (optional), name (optional); every other column is an option
      (e.g. iters, max_size); an empty cell keeps the batch's value.
    Relative paths in a list file are relative to the list file's folder.
    Names (THE rule, _unique_names): a list's 'name' as given; else the file's stem (a DATA folder's name) made
    safe. runs: the batch's BATCH/runs/ (None: no batch yet): a source without a given name whose data an existing
    run there was trained on (its run.json's data path) keeps that run's name, and a new one never takes the name
    of a run folder there, so a source keeps its name when others are added or removed (a.jpg and a.png are 'a'
    and 'a-2'; a.jpg deleted, a.png stays 'a-2').
    A source listed again is marked as a repeat (mark_repeats, with `resolve`: the batch's options applied).
    Raises DataError/ConfigError (one sentence naming the file and the problem) when SOURCES cannot be read.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such sources folder or list file.")
    if path.is_dir():
        entries = _from_folder(path)
    elif path.suffix.lower() == ".json":
        entries = _from_json(path)
    elif path.suffix.lower() == ".csv":
        entries = _from_csv(path)
    else:
        raise DataError(f"{path}: SOURCES must be a folder, a .json or a .csv list of sources.")
    if not entries:
        named = run_folder_as_data(path) if path.is_dir() else None  # a run folder is named as one, as train does
        if named is not None:
            raise named
        raise DataError(f"{path}: holds no sources (expected image/ + mask/ pairs, videos, or list entries).")
    return mark_repeats(_unique_names(entries, _runs_of(runs)), resolve)


def source_config(config: OsmisConfig, options: dict[str, Any], typed: Collection[str] = ()) -> OsmisConfig:
    """The options a source trains with: the batch's `config` with the source's overrides applied, checked as options
    given now (OsmisConfig.with_options). A rule broken between an override and a value of the batch's names both,
    the batch's as "the batch's --flag" where the user typed it (`typed`: the batch's flags) or "the batch's
    option 'NAME'": a row with lecam_weight 0 under --lecam-decay 0.9 is told that the batch's --lecam-decay has no
    effect on it, as a config file's option made ineffective by a flag is refused naming both (build_config). A
    flag the batch typed counts even at its default value (--lecam-decay 0.99), as `osmis train`'s flags do.
    Raises ConfigError."""
    flat = config.flat()
    return config.with_options(options, kept=lambda name: the_batchs(name, flat, typed), also_given=typed)


def the_batchs(name: str, flat: dict[str, Any], typed: Collection[str]) -> str:
    """How a source's message names an option of the batch's (`flat`: the batch's config): "the batch's --lr-d"
    where the user typed the flag, else "the batch's option 'lr_d'"."""
    return f"the batch's {flag_as_given(name, flat[name]) if name in typed else f'option {name!r}'}"


def batch_naming(config: OsmisConfig, options: dict[str, Any], typed: Collection[str] = ()) -> dict[str, str]:
    """option -> how a source's warnings about its values (config_warnings, on the worker) name it: the batch's
    options as source_config's refusals name them (the_batchs); the source's own `options` are not in it (named by
    their names, as a row gives them). A plain dict: it travels to the Ray worker with the source."""
    flat = config.flat()
    return {name: the_batchs(name, flat, typed) for name in flat if name not in options}


def mark_repeats(
    entries: list[BatchSource], resolve: Callable[[dict[str, Any]], dict[str, Any]] | None = None
) -> list[BatchSource]:
    """`entries` with each source listed again with the same data, mask and options as an earlier one made a source
    with a problem: it would train the same model a second time and put its pairs into the dataset twice (the same
    data with other options, an ablation, is a source of its own).

    resolve: maps a source's overrides to the options it trains with, flat (the batch's options with the overrides
    applied), so that an override equal to the batch's own value is a repeat too; overrides it refuses
    (ConfigError, reported for that source by the batch) are compared as written. Without it, as written.
    Options that change no model (config.OUTPUT_ONLY_OPTIONS: tensorboard) are not compared.
    """
    first: dict[tuple, tuple[str, dict]] = {}  # key -> the first source's name and options
    out = []
    for e in entries:
        options = e.options
        if resolve is not None:
            try:
                options = resolve(e.options)
            except ConfigError:
                pass
        trains = {k: v for k, v in options.items() if k not in OUTPUT_ONLY_OPTIONS}
        key = (*_trained_on(e), json.dumps(_plus_zero(trains), sort_keys=True, default=str))
        if key in first and e.problem is None:
            earlier, its_options = first[key]
            apart = sorted(k for k in OUTPUT_ONLY_OPTIONS if options.get(k) != its_options.get(k))
            only = f" ({', '.join(apart)} changes only what the run writes besides the model)" if apart else ""
            # differing only there, the user wants one run with that output: not "other options", which it has
            advice = (
                f": list it once, with the {' and '.join(apart)} you want on the source '{earlier}'"
                if apart
                else " (give other options, or list it once)"
            )
            e = BatchSource(
                e.name,
                e.data,
                e.mask,
                e.options,
                f"{e.data}: listed again with the same mask and options as the source '{earlier}'{only}; it "
                f"would train the same model twice{advice}.",
            )
        first.setdefault(key, (e.name, options))
        out.append(e)
    return out


def _plus_zero(value: Any) -> Any:
    """`value` (options, nested or flat) with -0.0 written as 0.0: a cell "-0" is the same weight as "0" (they
    compare equal, but JSON writes them apart)."""
    if isinstance(value, dict):
        return {k: _plus_zero(v) for k, v in value.items()}
    return value + 0.0 if isinstance(value, float) else value


def _trained_on(e: BatchSource) -> tuple:
    """The files a source trains on, as find_source (THE rule for a DATA path's frames and default masks) finds
    them, so that the same data written two ways is one source's repeat: a DATA folder and the same folder with its
    own mask/ given as its mask, a video folder and its video file. Data that cannot be read is compared by its
    paths as written (the batch reports its problem for each entry)."""
    try:
        source = find_source(e.data, e.mask)
    except (DataError, OSError):
        return resolved_path(Path(e.data)), resolved_path(Path(e.mask)) if e.mask else None
    masks = tuple(map(resolved_path, source.masks)) if source.masks else None
    return resolved_path(source.video or source.path), tuple(map(resolved_path, source.frames)), masks


def _from_folder(folder: Path) -> list[tuple[BatchSource, bool]]:
    image_dir, mask_dir = folder / "image", folder / "mask"
    if image_dir.is_dir():
        images = data_files(image_dir)
        masks = {}
        if mask_dir.is_dir():
            masks = {p.stem: p for p in data_files(mask_dir)}
        out = []
        for img in images:
            mask = masks.get(img.stem)
            problem = None
            if masks and mask is None:
                problem = f"{img}: no mask named {img.stem}.* in {mask_dir}."
            out.append(BatchSource(img.stem, resolved_path(img), resolved_path(mask) if mask else None, {}, problem))
        return [(e, False) for e in out]
    videos = data_files(folder, VIDEO_EXTS)
    found = {}
    for video in videos:
        found[video] = video_mask_folder(video, alone=len(videos) == 1)
    # masks straight in mask/ beside several videos belong to no one of them: each video without its own is told so,
    # where they trained without masks, silently
    loose = len(videos) > 1 and mask_dir.is_dir() and bool(data_files(mask_dir))
    out = []
    for video, mask in found.items():
        problem = None
        if mask is None and loose:
            problem = (
                f"{video}: no mask folder {video.stem}_mask/ or mask/{video.stem}/ beside it; the masks straight in "
                f"{mask_dir} belong to no one of the {len(videos)} videos."
            )
        elif mask is None and any(found.values()):  # as an image without its mask among masked images
            problem = (
                f"{video}: no mask folder {video.stem}_mask/ or mask/{video.stem}/ beside it, as the other videos have."
            )
        out.append(BatchSource(video.stem, resolved_path(video), resolved_path(mask) if mask else None, {}, problem))
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and (p / "image").is_dir()):
        out.append(BatchSource(sub.name, resolved_path(sub)))
    return [(e, False) for e in out]


def _resolve(base: Path, value: Any, where: str, key: str = "data") -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: '{key}' must be a path.")
    try:
        p = expand_user(value.strip())
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return resolved_path(p if p.is_absolute() else base / p)


def _from_json(path: Path) -> list[tuple[BatchSource, bool]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{path}: not a valid JSON list of sources ({exc}).") from None
    if isinstance(data, dict):
        data = data.get("sources")
    if not isinstance(data, list):
        raise ConfigError(f'{path}: expected a list of sources (or {{"sources": [...]}}).')
    out = []
    for i, entry in enumerate(data, 1):
        where = f"{path} entry {i}"
        if isinstance(entry, str):
            entry = {"data": entry}
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected an object with 'data' (and optional 'mask', 'name', 'options').")
        unknown = set(entry) - {"data", "mask", "name", "options"}
        if unknown:
            raise ConfigError(f"{where}: unknown key '{min(unknown)}' (use 'options' for option overrides).")
        # a whole number given for a real-valued option is that real ({"p_aug": 0} is {"p_aug": 0.0}), as a CSV
        # cell is read, so the same options written two ways are one source's repeat (mark_repeats)
        options = {
            k: float(v) if type(v) is int and option_type(k) is float else v
            for k, v in flatten_options(entry.get("options") or {}, where).items()
        }
        out.append(_entry(path.parent, entry.get("data"), entry.get("mask"), entry.get("name"), options, where))
    return out


def _from_csv(path: Path) -> list[tuple[BatchSource, bool]]:
    """The sources of a CSV list. Column names are read without surrounding blanks (and without the byte-order mark
    that spreadsheet programs write at the start of a UTF-8 CSV); a column named twice, or a row with more cells
    than the header has columns, is refused rather than a cell dropped. A short row's missing cells are empty."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path}: not a readable CSV list of sources ({exc}).") from None
    header = [k.strip() for k in rows[0]] if rows else []
    if "data" not in header:
        found = ",".join(rows[0]) if rows else ""
        raise ConfigError(f"{path}: the header must have a 'data' column (it reads {found!r}).")
    twice = next((k for i, k in enumerate(header) if k and k in header[:i]), None)
    if twice is not None:
        raise ConfigError(f"{path}: the header names the column '{twice}' twice.")
    out = []
    for i, cells in enumerate(rows[1:], 2):  # line numbers as an editor shows them (the header is line 1)
        where = f"{path} line {i}"
        if not any(c.strip() for c in cells):  # a blank line
            continue
        if len(cells) > len(header):
            raise ConfigError(
                f"{where}: {len(cells)} cells but the header has {len(header)} columns; a cell holding a comma "
                f"must be quoted."
            )
        row = dict(zip(header, (c.strip() for c in cells)))
        if row.get(""):
            raise ConfigError(f"{where}: the cell {row['']!r} is in a column without a name in the header.")
        raw = {k: v for k, v in row.items() if k not in ("", "data", "mask", "name") and v}
        options = {k: _parse_cell(k, v, where) for k, v in flatten_options(raw, where).items()}
        out.append(
            _entry(
                path.parent,
                row.get("data"),
                row.get("mask") or None,  # a blank cell keeps the batch's value: no mask
                row.get("name") or None,
                options,
                where,
            )
        )
    return out


def _parse_cell(name: str, text: str, where: str) -> Any:
    """A cell's value: of the option's type, or one of its words kept as text (p_aug "adaptive", as the flag
    --p-aug adaptive and a JSON list take it). A number is read as every number typed as text (config.read_number:
    '1_0' is refused, not 10)."""
    if text in (FIELDS[name][1].metadata.get("words") or {}):
        return text
    t = option_type(name)
    if t in (int, float):
        return parse_number(text, t, f"{where}: option '{name}'", option_maximum(name))
    try:
        if t is bool:
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        return t(text)
    except ValueError:
        raise ConfigError(f"{where}: option '{name}' must be of type {t.__name__}, got '{text}'.") from None


def _entry(base: Path, data, mask, name, options: dict, where: str) -> tuple[BatchSource, bool]:
    """A list's entry as a source, and whether its name was given (else it is the data's stem)."""
    data_path = _resolve(base, data, where)
    mask_path = _resolve(base, mask, where, "mask") if mask is not None else None  # "mask": "" names no file
    unknown = [k for k in options if k not in FIELDS]
    if unknown:
        raise ConfigError(f"{where}: unknown option '{unknown[0]}'.")
    return BatchSource(str(name) if name else data_path.stem, data_path, mask_path, options), bool(name)


def _runs_of(runs: str | Path | None) -> dict[str, tuple[Path | None, Path | None]]:
    """The run folders in BATCH/runs/ (`runs`; None or missing: none): name -> the data path and mask path their
    run.json records (None where it cannot be read or records none: no run was started there)."""
    from ..application.runfolder import RunFolder

    found: dict[str, tuple[Path | None, Path | None]] = {}
    try:
        folders = sorted(p for p in Path(runs).iterdir() if p.is_dir()) if runs is not None else []
    except OSError:  # no runs yet (the batch folder is made later), or one that cannot be listed: said when written
        folders = []
    for folder in folders:
        try:
            data = RunFolder(folder).read_run_json().get("data") or {}
        except OsmisError:
            data = {}
        path, mask = data.get("path"), data.get("mask_path")
        found[folder.name] = (
            Path(path) if isinstance(path, str) and path else None,
            Path(mask) if isinstance(mask, str) and mask else None,
        )
    return found


def _safe(name: str) -> str:
    """`name` with letters, digits, '.', '_' and '-' only, at most NAME_LIMIT characters."""
    return _UNSAFE.sub("_", name).strip("._")[:NAME_LIMIT].rstrip("._") or "source"


def _suffix_order(name: str) -> tuple[str, int]:
    """'a' before 'a-2' before 'a-10': the order _unique_names gave same-stem names in."""
    base, _, n = name.rpartition("-")
    return (base, int(n)) if base and n.isdigit() else (name, 1)


def _unique_names(
    entries: list[tuple[BatchSource, bool]], runs: dict[str, tuple[Path | None, Path | None]]
) -> list[BatchSource]:
    """THE naming of a batch's sources. `entries`: each source with its first-choice name, and whether the name was
    given (a list's 'name') or is its data's stem; `runs`: the batch's existing run folders (_runs_of).

    A source whose name was not given and whose data (with its mask first, then in the order of their names) an
    existing run was trained on keeps that run's name: the name it was given when the run started, whatever was
    listed beside it then or now. Every other name is made safe (letters, digits, '.', '_', '-'; at most
    NAME_LIMIT characters: a longer one trained, then its dataset file could not be written) and, repeated, gets
    -2, -3, ... in listing order; a name not given also passes over the names of the batch's runs (trained on other
    data: another source's, kept when its source is gone). A given name is used as it is (-2, ... when another
    source keeps it), its run's data checked by the batch (driver._other_data)."""
    # a run named by a list's 'name' and trained on that entry's data is that entry's, not another's of the same data
    data_of = {name.lower(): data for name, (data, _) in runs.items()}
    claimed = {_safe(e.name).lower() for e, given in entries if given and data_of.get(_safe(e.name).lower()) == e.data}
    trained_on: dict[Path, list[str]] = {}
    for name in sorted(runs, key=_suffix_order):
        data = runs[name][0]
        if data is not None and name.lower() not in claimed:
            trained_on.setdefault(data, []).append(name)
    kept: dict[int, str] = {}
    for i, (e, given) in enumerate(entries):
        names = trained_on.get(e.data) if not given else None
        if names:
            own = next((n for n in names if runs[n][1] == e.mask), names[0])
            names.remove(own)
            kept[i] = own
    # case-insensitive: the runs may land on a case-insensitive file system
    used = {name.lower() for name in kept.values()}
    taken = {name.lower() for name, (data, _) in runs.items() if data is not None}
    out = []
    for i, (e, given) in enumerate(entries):
        name = kept.get(i)
        if name is None:
            base = _safe(e.name)
            name, n = base, 1
            while name.lower() in used or (not given and name.lower() in taken):
                n += 1
                name = f"{base}-{n}"
            used.add(name.lower())
        out.append(BatchSource(name, e.data, e.mask, e.options, e.problem))
    return out
