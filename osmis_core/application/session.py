"""Training sessions: start a run, resume it, inspect data; the rules every face (CLI, app, library) shares.

The facts kept here and nowhere else: which options may change when a run is resumed (`RESUMABLE_OPTIONS`, defined
next to the options in config.py so that the app can read it without loading torch), how a new run folder is named
(`new_run_dir`), and what a run or an inspection is reported as (`RunDescription`, `InspectReport`, each with the
`summary()` that the CLI prints and the app shows).
"""

from __future__ import annotations

import contextlib
import shlex
import time
import warnings
from collections.abc import Callable, Collection, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import (
    COUNT_LIMIT,
    FIELDS,
    INSPECT_RECIPE,
    RESUMABLE_OPTIONS,
    OsmisConfig,
    check_given_values,
    check_model_options,
    config_warnings,
    flag_naming,
    model_reads,
    typed_flag,
)
from ..errors import CheckpointError, ConfigError, DataError, OsmisError
from ..events import HealthEvent, RunDescription, TrainingStarted
from ..files import discard_made, first_missing, lock_holder, refused_name, resolved_path

if TYPE_CHECKING:
    from ..training.trainer import Trainer
    from .runfolder import RunFolder

# The app imports this module on its GUI thread: torch and the training modules are imported by the use cases
# that need them, not here.

__all__ = [
    "RESUMABLE_OPTIONS",
    "InspectReport",
    "RunDescription",
    "TrainingStarted",
    "health_stop_message",
    "inspect_data",
    "new_run_dir",
    "ResumePlan",
    "check_resume_data",
    "fixed_option_refusal",
    "plan_resume",
    "resume_training",
    "start_training",
]

RUNS_ROOT = Path("runs")


def new_run_dir(data_path: str | Path, root: str | Path = RUNS_ROOT) -> Path:
    """THE name of a new run folder for DATA: `<root>/<data stem>`, or `<root>/<stem>-001`, `-002`, ... when that
    is taken. Nothing is created. A blank root (the app's cleared "folder for new runs") is refused (ConfigError):
    it would put the run into the working folder, as an empty --out would; so is a root whose name cannot be looked
    up, one in a file (an image chosen as the folder) and one inside another run's own folders
    (runfolder.in_run_files, as start_training refuses)."""
    if not str(root).strip():
        raise ConfigError("the folder for new runs is empty: give a folder (such as runs).")
    root = Path(root)
    stem = Path(data_path).stem or "run"
    path = root / stem
    i = 1
    try:
        while path.exists():
            path = root / f"{stem}-{i:03d}"
            i += 1
        existing = next((p for p in (root, *root.parents) if p.exists()), None)
    except OSError as exc:  # a name the system refuses to look up (past 255 bytes): it had escaped the app's Start
        raise ConfigError(f"{root}: cannot hold a new run ({exc.strerror or exc}); give another folder.") from None
    if existing is not None and not existing.is_dir():  # training had started loading, then said NAME/stem
        raise ConfigError(f"{root}: cannot hold a new run ({existing} is a file); give another folder.")
    from .runfolder import in_run_files

    own = in_run_files(path)
    if own is not None:  # said of the folder given, before the app starts loading (start_training said "--out")
        raise ConfigError(f"{root}: cannot hold a new run ({own} holds another run's own files); give another folder.")
    return path


def _warn_config(config: OsmisConfig, name_as: Callable[[str], str] | None) -> None:
    for message in config_warnings(config, name_as):
        warnings.warn(message, stacklevel=2)


def _check_config_for_data(
    config: OsmisConfig, data, data_path: str | Path, name_as: Callable[[str], str] | None = None
) -> None:
    """Options that the loaded data cannot serve are refused before anything is written (ConfigError), naming
    the option as `name_as` does (the app's label; it had said "--layouts-from: …" and "--keep-best …" in the app)."""
    if config.model == "osmis":
        from ..training.monitor import check_keep_best

        said = name_as("keep_best") if name_as is not None else "--keep-best"
        check_keep_best(config.run.keep_best, data.num_classes is not None, str(data_path), said)
    elif config.renderer.layouts_from:  # an earlier version stored --layouts-from "" for none
        from ..training.renderer_trainer import check_layouts_from

        said = name_as("layouts_from") if name_as is not None else "--layouts-from"
        check_layouts_from(config.renderer.layouts_from, data.num_classes, said)


def _load_data_noted(load_data, config: OsmisConfig, data_path, mask_path, device) -> tuple[Any, list[str]]:
    """load_data(config, data_path, mask_path, device) with the warnings it raises (a video decoded only in part, a
    dark 16-bit image) passed on to the caller as raised and returned as sentences, for the run's log.txt: a later
    look at the run, or a batch that skips a finished run, shows them too."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_data(config, data_path, mask_path, device)
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return data, [str(w.message) for w in caught]


def start_training(
    config: OsmisConfig,
    data_path: str | Path,
    run_dir: str | Path | None = None,
    mask_path: str | Path | None = None,
    check: Callable[[OsmisConfig, Any], None] | None = None,
    name_as: Callable[[str], str] | None = None,
) -> Trainer:
    """Create a new run folder and a trainer at step 0; `trainer.run()` then trains and yields events.

    The trainer holds the run's training lock (RunFolder.training) from this start until its run() ends, so that
    no other start, resume or training of the folder comes between: one that will not run is closed (`with
    start_training(...) as trainer:`, or trainer.close()), else the folder stays refused to other processes
    until this one ends.

    run_dir: the run folder, which must not hold a run with a checkpoint yet (default: `new_run_dir(data_path)`);
    a run killed before its first checkpoint has nothing to keep and starts again in place.
    check(config, data): called with the loaded data (its `images`, F x 3 x H x W at the training size) before
    anything is written; it raises to refuse the start (`osmis run` checks its evaluation against the size).
    name_as: how a warning about a value (config_warnings) names its option: the CLI's flags as typed
    (config.flag_naming), the app's form labels (config.option_label); default "option 'NAME'".
    Raises ConfigError when config is not an OsmisConfig or run_dir already holds a run, DataError for unusable
    data, OsmisError for an output folder that cannot be written.
    """
    from ..devices import resolve_device
    from ..training.trainer import model_parts
    from .runfolder import RunFolder, in_run_files, output_place_problem, run_json_missing

    if not isinstance(config, OsmisConfig):  # a dict of options, say: its first use would be an AttributeError
        raise ConfigError(
            f"config must be an OsmisConfig (build_config(preset, overrides={{...}})), got {type(config).__name__}."
        )
    folder = RunFolder(run_dir if run_dir is not None else new_run_dir(data_path))
    reason = refused_name(folder.root)
    if reason is not None:  # said of the folder itself, not of a file the checks below would look up in it
        raise ConfigError(f"{folder.root}: cannot be a run folder ({reason}); give another --out.")
    own = in_run_files(folder.root)
    if own is not None:  # the new run's checkpoints and stats would mix with the run's own files
        raise ConfigError(
            f"{folder.root}: a new run cannot go in {own}, a folder of another run's own files; give an --out "
            "outside it."
        )
    place = output_place_problem(folder.root, "run")
    if place is not None:  # a run inside a gallery: the gallery would hold files not its own
        raise ConfigError(f"{folder.root}: {place}.")
    lost = run_json_missing(folder.root, ", or give another --out")
    if lost is not None:  # a new run would write over the lost run's checkpoints and stats, mixing two runs
        raise ConfigError(lost)
    if folder.exists():
        folder.check_not_training()  # one stopped before its first checkpoint is started again in place: not this
        if folder.checkpoint_steps():
            raise ConfigError(f"{folder.root}: already holds a run; use --resume to continue it or another --out.")
    if config.run.tensorboard:
        from ..training.tensorboard import require_tensorboard

        require_tensorboard(folder.tensorboard)
    device = resolve_device(config.run.device)
    trainer_class, load_data = model_parts(config)
    with _data_named(data_path):  # `osmis train RUN` without --resume: say what the folder is
        data, data_warnings = _load_data_noted(load_data, config, data_path, mask_path, device)
    _check_config_for_data(config, data, data_path, name_as)
    if check is not None:
        check(config, data)
    _warn_config(config, name_as)
    made = first_missing(folder.root)  # None: the folder was there (a restart in place, an empty folder given)
    folder.create()
    try:
        return _start_in(folder, config, data, data_warnings, data_path, mask_path, device, trainer_class)
    except BaseException:
        # stopped (Ctrl-C, SIGTERM) or failed before the run holds anything: no folder of it is left, as nothing of
        # a stopped gallery is (a folder without run.json would be refused as no run by every command); one whose
        # lock another start holds (made at once beside this one) is that start's
        if made is not None and lock_holder(folder.training_lock) is None:
            discard_made(folder.root, made)
        raise


def _start_in(folder, config, data, data_warnings, data_path, mask_path, device, trainer_class) -> Trainer:
    """start_training's writing part: the run folder made, under its training lock, a trainer at step 0 and
    run.json. The lock stays with the trainer (Trainer.keep_training_lock) until its training ends or it is
    closed: a second start of the folder before the first trains is refused, not trained into the same folder."""
    from .runfolder import versions

    with contextlib.ExitStack() as held:
        held.enter_context(folder.training())
        # looked at again under the lock: another start of the folder may have come between the checks of
        # start_training and now (a run it started and ended, or one it set up and closed without training)
        if folder.checkpoint_steps():
            raise ConfigError(f"{folder.root}: already holds a run; use --resume to continue it or another --out.")
        restart = folder.exists()
        removed = folder.remove_temporaries()  # of a start killed while it wrote run.json, say
        if restart:
            best = folder.read_best() if folder.best_checkpoint.is_file() else None
            dropped = f"; the best checkpoint it kept at step {best['step']} is removed" if best else ""
            folder.clear_for_restart()
            warnings.warn(
                f"{folder.root} held a run stopped before its first checkpoint; it starts again in place{dropped}",
                stacklevel=2,
            )
            folder.log(f"restarted in place: the earlier start saved no step checkpoint{dropped}")
        if removed:
            folder.log(f"removed {len(removed)} temporary file(s) left by an interrupted write")
        for message in data_warnings:
            folder.log(f"data warning: {message}")
        trainer = trainer_class(config, data, folder.root, device)
        description = trainer.describe()
        folder.write_run_json(
            {
                "config": config.to_dict(),
                "data": {
                    "path": str(resolved_path(Path(data_path))),
                    "mask_path": str(resolved_path(Path(mask_path))) if mask_path else None,
                    **description.data,
                },
                "architecture": description.architecture,
                "params_g": description.params_g,
                "params_d": description.params_d,
                "versions": versions(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
        )
        trainer.keep_training_lock(held.pop_all())
        return trainer


def check_resume_data(run_dir: str | Path, data_path: str | Path | None, mask_path: str | Path | None = None) -> None:
    """A resume that names its data (`osmis train DATA --out RUN --resume`, `osmis run DATA --out RUN --resume`)
    goes on with the run's own data and masks: other data, or a --mask other than the one the run was started
    with, is refused (ConfigError) rather than silently left unused."""
    from .runfolder import RunFolder

    data = RunFolder(run_dir).read_run_json().get("data") or {}
    if data_path is not None and data.get("path") and Path(data["path"]) != resolved_path(Path(data_path)):
        raise ConfigError(f"{run_dir} was trained on {data['path']}, not on {data_path}.")
    stored = data.get("mask_path")
    if mask_path is not None and (stored is None or Path(stored) != resolved_path(Path(mask_path))):
        started = f"--mask {stored}" if stored else "the masks found beside its data (no --mask)"
        raise ConfigError(f"{run_dir} was started with {started}, not with --mask {mask_path}; leave --mask out.")


@dataclass(frozen=True)
class ResumePlan:
    """What resuming a run will do, found without loading its data or writing anything (`plan_resume`)."""

    folder: RunFolder
    info: dict  # its run.json
    state: dict  # its newest good checkpoint
    stored: dict  # that checkpoint's options as stored (an outdated count included, see config.outdated_counts)
    changes: dict  # option -> value asked now that differs from the stored one
    typed: frozenset  # the options of the request the user gave now
    config: OsmisConfig  # the config the run will train on


def fixed_option_refusal(run_dir: str | Path, config: OsmisConfig) -> str | None:
    """Why the run in run_dir cannot be `config`'s run: an option that cannot change on resume (any but
    RESUMABLE_OPTIONS) differs, in plan_resume's sentence. None when none differs, or the folder holds no readable
    run.json (the start or resume says what is wrong). For a caller that also takes a finished run as it is
    (`osmis batch` skips it, with nothing to train): one that resumes is refused so by plan_resume itself. Reads
    run.json, and the checkpoint only when an option differs."""
    from .runfolder import RunFolder

    folder = RunFolder(run_dir)
    try:
        listed = OsmisConfig.from_dict(folder.read_run_json()["config"], str(folder.run_json)).flat()
    except (OsmisError, OSError, KeyError, TypeError, ValueError):
        return None
    asked = {k: v for k, v in config.flat().items() if k not in RESUMABLE_OPTIONS}
    if all(listed.get(k) == v for k, v in asked.items()):
        return None
    try:
        plan_resume(run_dir, asked, typed=())
    except OsmisError as exc:
        return str(exc)
    return None


def plan_resume(run_dir: str | Path, overrides: dict | None = None, typed: Collection[str] | None = None) -> ResumePlan:
    """Check a resume of the run (see resume_training) before anything trains: the run folder, its newest good
    checkpoint and the options asked, by the resume rules. Writes nothing, so that a command that resumes two runs
    (`osmis run --two-stage --resume`) checks the second before the first trains. Raises as resume_training does.

    A count stored by an earlier version above today's limit (config.outdated_counts) is read from run.json and the
    checkpoint leniently: an option asked now (the run's new length, --iters) takes its place before anything is
    checked; one not asked is refused in the sentence that names it, run.json's first (the file the user can
    open)."""
    from ..config import flatten_options
    from .runfolder import RunFolder

    folder = RunFolder(run_dir)
    folder.require(to_resume=True)  # a missing folder, or one without run.json, in the words every command uses
    info = folder.read_run_json()
    if not isinstance(info.get("config"), dict):
        raise CheckpointError(f"{folder.run_json}: holds no config.")
    outdated: dict[str, str] = {}
    listed = OsmisConfig.from_dict(info["config"], str(folder.run_json), outdated)  # a hand-edited run.json too
    if not folder.checkpoint_steps():
        data = info.get("data") or {}
        again = ["osmis", "train", str(data.get("path", "DATA")), "--config", str(folder.run_json)]
        again += ["--mask", str(data["mask_path"])] if data.get("mask_path") else []
        again += ["--out", str(folder.root)]
        raise CheckpointError(
            f"{folder.root}: the run stopped before its first checkpoint, so there is nothing to "
            f"resume; start it again in place, with its options, with: {shlex.join(again)}"
        )
    state = folder.load_checkpoint("latest")
    # the checkpoint's own config, not run.json's: a session that failed after changing run.json (a learning rate
    # that diverged, say) saved no checkpoint with it
    source = str(folder.checkpoint_path(int(state["step"])))
    in_checkpoint: dict[str, str] = {}
    saved = OsmisConfig.from_dict(state["config"], source, in_checkpoint)
    raw = flatten_options(state["config"], source)
    stored = {**saved.flat(), **{k: raw[k] for k in in_checkpoint}}

    def fixed(cfg: OsmisConfig) -> dict:
        return {k: v for k, v in cfg.flat().items() if k not in RESUMABLE_OPTIONS}

    if fixed(saved) != fixed(listed):
        raise CheckpointError(f"{folder.root}: the checkpoint was made with another config than run.json.")
    asked = dict(overrides or {})
    typed = set(asked) if typed is None else set(typed) & set(asked)
    changes = {k: v for k, v in asked.items() if stored.get(k) != v}
    # a library caller's unknown name or {"iters": "8"}, before a change is looked up or compared with the step
    check_given_values(changes, typed)
    # an option the run's model does not read says so, not "made with another config" (a renderer run has ch_g)
    check_model_options(saved.model, changes)
    bad = sorted(set(changes) - set(RESUMABLE_OPTIONS))
    if bad:
        k = bad[0]
        what = typed_flag(k, changes[k]) if k in typed else repr(changes[k])
        raise ConfigError(
            f"{folder.root} was made with another config ({k} = {stored[k]!r}, asked {what}); only "
            f"{', '.join(RESUMABLE_OPTIONS)} can change on resume."
        )
    for name, sentence in {**in_checkpoint, **outdated}.items():
        # the limit itself, not typed now, is the value a reader put in the stored count's place (the app's form
        # shows it and passes it back on Continue): no new value given
        if name not in asked or (name not in typed and asked[name] == COUNT_LIMIT):
            raise ConfigError(sentence)
    step = int(state["step"])
    if "iters" in changes and changes["iters"] <= step:
        # a length at or below the step would rewrite run.json's iters (and move the learning-rate schedule) to a
        # run that ends before where it already is; the same length as the run's own (a finished job's command
        # repeated with --resume, to make its gallery again) changes nothing and is not refused
        what = typed_flag("iters", changes["iters"]) if "iters" in typed else f"iters {changes['iters']}"
        raise ConfigError(
            f"{what}: {folder.root} is already at step {step}; give a larger --iters to train it longer "
            "(--iters is the total length of the run)."
        )
    # the config as it will be: the rules between options apply to what is asked now (a typed option equal to the
    # run's value included), not to the run's own combination
    fixed = set(FIELDS) - set(RESUMABLE_OPTIONS)
    config = saved.with_options(changes, flags=typed, kept="the run's option", fixed=fixed)
    return ResumePlan(folder, info, state, stored, changes, frozenset(typed), config)


def _as_trained(config: OsmisConfig, state: dict, data_path: str) -> tuple[OsmisConfig, str]:
    """The config the run's data is loaded with on resume, and a sentence for masks it leaves unused ("" if none). An
    OSMIS run trained without masks (its checkpoint's num_classes None: none were beside its data) goes on without them
    when a mask has been put beside its data since: its model has no mask head to load (the resume ended in "the
    checkpoint does not match this run's model"), and a resume goes on with the run's own data."""
    from ..data.sources import find_source

    if config.model != "osmis" or not config.data.masks or "num_classes" not in state or state["num_classes"]:
        return config, ""
    as_trained = replace(config, data=replace(config.data, masks=False))
    try:
        found = find_source(data_path).masks
    except DataError:  # said by the data's loading, next
        found = None
    if not found:
        return as_trained, ""
    return as_trained, (
        f"{data_path}: masks are beside it now, but this run was trained without masks and goes on without them; "
        "start a new run to train with them."
    )


def resume_training(
    run_dir: str | Path,
    overrides: dict | None = None,
    typed: Collection[str] | None = None,
    check: Callable[[OsmisConfig, RunFolder], None] | None = None,
    name_as: Callable[[str], str] | None = None,
) -> Trainer:
    """A trainer restored from the run's newest good checkpoint, with the config that checkpoint was trained with.
    It holds the run's training lock until its run() ends or it is closed, as start_training's does.

    overrides: option name -> value asked of the resumed run; only RESUMABLE_OPTIONS may differ from the run's
    config (others equal to it are accepted). typed: the options of `overrides` the user gave now (the flags typed;
    default: all of them, as a library caller's overrides). A typed option counts as given even at the run's value
    (the rules between options check it, and their messages name its flag, as for a new run), and a typed learning
    rate replaces the rate in use (the checkpoint optimiser's, after any rollback halved it) whenever it differs
    from it. The other options (the whole resumable part of a config that the app or a batch passes) change the run
    only where they differ from its config. The run's own config is not checked again by today's rules between
    options: they apply to what is asked now, so a run stored by an earlier version resumes (a count it stored
    above today's limit, once the option is asked now: see plan_resume).

    check(config, folder): called with the config as it will be and the run folder before the data is loaded or
    anything is written; it raises to refuse the resume (`osmis run --checkpoint` checks the checkpoint it asks for
    will exist). name_as: how a warning about a value (config_warnings) names an option not typed (the app's form
    labels); a typed one is named by its flag, as the resume's refusals name it.

    Each change is recorded in run.json's `resume_changes` and in log.txt, a learning rate's from the rate in use; a
    change of iters that moves the learning-rate schedule (lr_decay_from below 1) says so in log.txt.
    Temporary files of an interrupted write are removed first. Raises ConfigError for a change of another option, a
    rule broken by what is asked, or iters changed to a length the checkpoint's step already reaches (nothing would
    be trained and run.json would say the run is shorter than it is; the run's own iters asked again is no change:
    a finished run resumes with nothing to train), CheckpointError for a folder without run.json or checkpoint
    (saying how to start a run killed before its first checkpoint again).
    """
    from ..devices import resolve_device
    from ..training.trainer import lr_decay_factor, model_parts
    from .runfolder import RunFolder

    RunFolder(run_dir).check_not_training()  # before its files are read half-written or changed
    plan = plan_resume(run_dir, overrides, typed)
    with contextlib.ExitStack() as held:  # the lock, from the first file this resume changes to the training's end
        held.enter_context(plan.folder.training())
        folder, info, state, config, changes = plan.folder, plan.info, plan.state, plan.config, plan.changes
        asked, typed, step = dict(overrides or {}), plan.typed, int(state["step"])
        removed = folder.remove_temporaries()
        if check is not None:
            check(config, folder)
        if config.run.tensorboard:
            from ..training.tensorboard import require_tensorboard

            require_tensorboard(folder.tensorboard)
        device = resolve_device(config.run.device)
        data_info = info.get("data") or {}
        if not data_info.get("path"):  # an empty path would be read as the working folder: other data
            raise CheckpointError(f"{folder.run_json}: holds no data path (data.path) to train on.")
        trainer_class, load_data = model_parts(config)
        load_config, unused_masks = _as_trained(config, state, data_info["path"])
        data, data_warnings = _load_data_noted(
            load_data, load_config, data_info["path"], data_info.get("mask_path"), device
        )
        if unused_masks:
            warnings.warn(unused_masks, stacklevel=2)
            data_warnings.append(unused_masks)
        naming = flag_naming({k: asked[k] for k in typed}, name_as)  # a flag typed now by it, others as the caller
        _check_config_for_data(config, data, data_info.get("path", str(folder.root)), naming)
        _warn_config(config, naming)
        trainer = trainer_class(config, data, folder.root, device)
        trainer.load_state_dict(state)
        # the checkpoint's optimiser states hold the learning rates the run trained with, after any rollback halved
        # lr_d (run.json's `rollbacks` only records it): a rate asked now replaces the rate in use where it differs
        in_use = trainer.learning_rates()
        rates = {k: asked[k] for k in in_use if (k in typed or k in changes) and asked[k] != in_use[k]}
        trainer.set_learning_rates(rates.get("lr_g"), rates.get("lr_d"))
        trainer.monitor.checkpoint_saved(trainer.step)  # the checkpoint a resume starts from counts as healthy
        folder.truncate_stats(trainer.step)
        if removed:
            folder.log(f"removed {len(removed)} temporary file(s) left by an interrupted write")
        for message in data_warnings:
            folder.log(f"data warning: {message}")
        if changes or rates or info["config"] != config.to_dict():
            # a learning rate's change is from the rate in use; one asked equal to it changes no training (none
            # recorded)
            was = {**plan.stored, **in_use}
            record = [
                {"step": trainer.step, "option": k, "from": was[k], "to": v}
                for k, v in {**changes, **rates}.items()
                if k in rates or k not in in_use
            ]
            info["config"] = config.to_dict()
            info["resume_changes"] = info.get("resume_changes", []) + record
            folder.write_run_json(info)
            if record:
                folder.log(
                    "resumed with "
                    + ", ".join(f"{r['option']} changed from {r['from']!r} to {r['to']!r}" for r in record)
                )
            share = config.optimisation.lr_decay_from
            if "iters" in changes and share < 1:
                folder.log(
                    "the learning-rate schedule follows iters: the decay now starts at step "
                    f"{share * config.run.iters:g} "
                    f"(was {share * plan.stored['iters']:g}); lr_scale at step {step} goes from "
                    f"{lr_decay_factor(step, plan.stored['iters'], share):.3g} to {trainer.lr_scale():.3g}"
                )
        trainer.keep_training_lock(held.pop_all())  # until its run() ends or it is closed (Trainer.close)
        return trainer


@dataclass(frozen=True)
class InspectReport:
    """What training on some data with some config would use (`osmis inspect`, the app's data page)."""

    resolution: tuple[int, int]  # (H, W) of training
    noise_shape: tuple[int, int]  # (h, w) of the input noise map
    num_blocks_g: int
    num_blocks_d: int
    num_blocks_d0: int
    num_classes: int | None  # None: no mask (SIV-GAN)
    params_g: int
    params_d: int
    num_frames: int
    original_size: tuple[int, int]  # (W, H) of the input
    source: dict  # DataSource.to_dict()
    mask: dict | None  # MaskReport.to_dict()
    mask_summary: str | None  # MaskReport.describe()
    notes: list[str] = field(default_factory=list)
    model: str = "osmis"  # osmis | renderer
    # the training recipe the config (a preset's) sets: iters, lr_g, lr_d and, for OSMIS, eval_every
    training: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("resolution", "noise_shape", "original_size"):
            d[k] = list(d[k])
        return d

    def summary(self) -> str:
        """The lines `osmis inspect` prints: data, resolution, classes, architecture, parameters, notes."""
        w, h = self.original_size
        lines = [
            f"data:          {self.source['path']} ({self.source['kind']}, {self.num_frames} frame(s), {w}x{h})",
            f"resolution:    {self.resolution[1]}x{self.resolution[0]} (W x H), noise {list(self.noise_shape)}",
            f"classes:       {self.mask_summary or 'no mask (SIV-GAN)'}",
            f"architecture:  n_g={self.num_blocks_g} n_d={self.num_blocks_d} n_d0={self.num_blocks_d0}"
            if self.model == "osmis"
            else f"architecture:  renderer, {self.num_blocks_g} SPADE blocks, D with {self.num_blocks_d} down blocks",
            f"parameters:    G {self.params_g:,}  D {self.params_d:,}",
        ]
        if self.training:
            lines.append(
                "training:      "
                + ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in self.training.items())
            )
        return "\n".join(lines + [f"note:          {n}" for n in self.notes])


def health_stop_message(halt: HealthEvent, folder: RunFolder) -> str:
    """THE sentence of a training that a health check ended (--on-collapse stop: the HealthEvent `halt` with action
    "stop"): the check, its step and the checkpoint that stays latest (the faulty state is not saved). Such a run
    failed: the CLI exits 2, a batch reports the source as failed, the app shows it as an error."""
    latest = folder.latest_step()
    kept = (
        f"the last checkpoint {folder.checkpoint_path(latest).name} is kept as latest"
        if latest is not None
        else "no checkpoint had been saved yet"
    )
    return (
        f"training stopped by a health check (--on-collapse stop): {halt.message}; {kept} (run folder: {folder.root})."
    )


@contextlib.contextmanager
def _data_named(data_path: str | Path) -> Iterator[None]:
    """Data that cannot be read because DATA is a run folder (with run.json, or one whose run.json is missing) is
    refused as one (runfolder.run_folder_as_data), not as "the folder holds no images"."""
    from .runfolder import run_folder_as_data

    try:
        yield
    except DataError:
        error = run_folder_as_data(data_path)
        if error is not None:
            raise error from None
        raise


def inspect_data(
    data_path: str | Path,
    mask_path: str | Path | None,
    config: OsmisConfig,
    name_as: Callable[[str], str] | None = None,
) -> InspectReport:
    """Load the data as training would (on the CPU), build the models and report. Raises DataError for unusable
    data, ConfigError for a config that cannot make a model of it; warns (UserWarning) about the values training
    would warn about (config_warnings), so the recipe shown comes with the same warnings, naming the options by
    `name_as` as start_training does."""
    import torch

    from ..training.trainer import build_models, count_parameters, load_data_for

    _warn_config(config, name_as)
    if config.model == "renderer":
        from ..training.renderer_trainer import build_renderer, load_renderer_data

        with _data_named(data_path):
            data = load_renderer_data(config, data_path, mask_path, torch.device("cpu"))
        g, d = build_renderer(config, data.num_classes, data.architecture)
    else:
        with _data_named(data_path):
            data = load_data_for(config, data_path, mask_path, torch.device("cpu"))
        g, d = build_models(config, data)
    a = data.architecture
    arch = a.to_dict()  # the renderer's architecture names its G/D depths with the same keys
    return InspectReport(
        model=config.model,
        resolution=(a.height, a.width),
        noise_shape=tuple(arch["noise_shape"]),
        num_blocks_g=arch["num_blocks_g"],
        num_blocks_d=arch["num_blocks_d"],
        num_blocks_d0=arch["num_blocks_d0"],
        num_classes=data.num_classes,
        params_g=count_parameters(g),
        params_d=count_parameters(d),
        num_frames=data.num_frames,
        original_size=tuple(data.original_size),
        source=data.source.to_dict(),
        mask=data.mask_report.to_dict() if data.mask_report else None,
        mask_summary=data.mask_report.describe() if data.mask_report else None,
        notes=list(a.notes) + (list(data.mask_report.notes) if data.mask_report else []),
        training={k: v for k, v in config.flat().items() if k in INSPECT_RECIPE and model_reads(k, config.model)},
    )
