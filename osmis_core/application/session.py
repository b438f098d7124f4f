"""Training sessions: start a run, resume it, inspect data; the rules every face (CLI, app, library) shares.

The facts kept here and nowhere else: which options may change when a run is resumed (`RESUMABLE_OPTIONS`, defined
next to the options in config.py so that the app can read it without loading torch), how a new run folder is named
(`new_run_dir`), and what a run or an inspection is reported as (`RunDescription`, `InspectReport`, each with the
`summary()` that the CLI prints and the app shows).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import RESUMABLE_OPTIONS, OsmisConfig
from ..errors import CheckpointError, ConfigError
from ..events import RunDescription, TrainingStarted

if TYPE_CHECKING:
    from ..training.trainer import Trainer

# The app imports this module on its GUI thread: torch and the training modules are imported by the use cases
# that need them, not here.

__all__ = ["RESUMABLE_OPTIONS", "InspectReport", "RunDescription", "TrainingStarted", "inspect_data", "new_run_dir",
           "resume_training", "start_training"]

RUNS_ROOT = Path("runs")


def new_run_dir(data_path: str | Path, root: str | Path = RUNS_ROOT) -> Path:
    """THE name of a new run folder for DATA: `<root>/<data stem>`, or `<root>/<stem>-001`, `-002`, ... when that
    is taken. Nothing is created."""
    root = Path(root)
    stem = Path(data_path).stem or "run"
    path = root / stem
    i = 1
    while path.exists():
        path = root / f"{stem}-{i:03d}"
        i += 1
    return path


def start_training(config: OsmisConfig, data_path: str | Path, run_dir: str | Path | None = None,
                   mask_path: str | Path | None = None) -> Trainer:
    """Create a new run folder and a trainer at step 0; `trainer.run()` then trains and yields events.

    run_dir: the run folder, which must not hold a run yet (default: `new_run_dir(data_path)`).
    Raises ConfigError when run_dir already holds a run, DataError for unusable data, OsmisError for an output
    folder that cannot be written.
    """
    from ..devices import resolve_device
    from ..training.trainer import Trainer, load_data_for
    from .runfolder import RunFolder, versions
    folder = RunFolder(run_dir if run_dir is not None else new_run_dir(data_path))
    if folder.exists():
        raise ConfigError(f"{folder.root}: already holds a run; use --resume to continue it or another --out.")
    device = resolve_device(config.run.device)
    data = load_data_for(config, data_path, mask_path, device)
    folder.create()
    trainer = Trainer(config, data, folder.root, device)
    description = trainer.describe()
    folder.write_run_json({
        "config": config.to_dict(),
        "data": {"path": str(Path(data_path).resolve()),
                 "mask_path": str(Path(mask_path).resolve()) if mask_path else None, **description.data},
        "architecture": description.architecture,
        "params_g": description.params_g,
        "params_d": description.params_d,
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    })
    return trainer


def resume_training(run_dir: str | Path, overrides: dict | None = None) -> Trainer:
    """A trainer restored from the run's latest good checkpoint.

    overrides: option name -> value; only RESUMABLE_OPTIONS may differ from the run's config (others equal to it
    are accepted). A change is written to run.json. Raises ConfigError for a change of another option,
    CheckpointError for a folder without run.json or checkpoint.
    """
    from ..devices import resolve_device
    from ..training.trainer import Trainer, load_data_for
    from .runfolder import RunFolder
    folder = RunFolder(run_dir)
    info = folder.read_run_json()
    try:
        saved = OsmisConfig.from_dict(info["config"], str(folder.run_json))
    except KeyError:
        raise CheckpointError(f"{folder.run_json}: holds no config.") from None
    changes = {k: v for k, v in (overrides or {}).items() if saved.flat().get(k) != v}
    bad = sorted(set(changes) - set(RESUMABLE_OPTIONS))
    if bad:
        k = bad[0]
        raise ConfigError(f"{folder.root} was made with another config ({k} = {saved.flat()[k]!r}, asked "
                          f"{changes[k]!r}); only {', '.join(RESUMABLE_OPTIONS)} can change on resume.")
    config = saved.replace(**changes)
    state = folder.load_checkpoint("latest")

    def fixed(cfg: dict) -> dict:
        return {k: v for k, v in OsmisConfig.from_dict(cfg).flat().items() if k not in RESUMABLE_OPTIONS}
    if fixed(state.get("config", {})) != fixed(info["config"]):
        raise CheckpointError(f"{folder.root}: the checkpoint was made with another config than run.json.")
    device = resolve_device(config.run.device)
    data_info = info.get("data", {})
    data = load_data_for(config, data_info.get("path", ""), data_info.get("mask_path"), device)
    trainer = Trainer(config, data, folder.root, device)
    trainer.load_state_dict(state)
    folder.truncate_stats(trainer.step)
    if changes:
        info["config"] = config.to_dict()
        folder.write_run_json(info)
    return trainer


@dataclass(frozen=True)
class InspectReport:
    """What training on some data with some config would use (`osmis inspect`, the app's data page)."""
    resolution: tuple[int, int]             # (H, W) of training
    noise_shape: tuple[int, int]            # (h, w) of the input noise map
    num_blocks_g: int
    num_blocks_d: int
    num_blocks_d0: int
    num_classes: int | None                 # None: no mask (SIV-GAN)
    params_g: int
    params_d: int
    num_frames: int
    original_size: tuple[int, int]          # (W, H) of the input
    source: dict                            # DataSource.to_dict()
    mask: dict | None                       # MaskReport.to_dict()
    mask_summary: str | None                # MaskReport.describe()
    notes: list[str] = field(default_factory=list)

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
            f"architecture:  n_g={self.num_blocks_g} n_d={self.num_blocks_d} n_d0={self.num_blocks_d0}",
            f"parameters:    G {self.params_g:,}  D {self.params_d:,}",
        ]
        return "\n".join(lines + [f"note:          {n}" for n in self.notes])


def inspect_data(data_path: str | Path, mask_path: str | Path | None, config: OsmisConfig) -> InspectReport:
    """Load the data as training would (on the CPU), build the models and report. Raises DataError for unusable
    data, ConfigError for a config that cannot make a model of it."""
    import torch

    from ..training.trainer import build_models, count_parameters, load_data_for
    data = load_data_for(config, data_path, mask_path, torch.device("cpu"))
    g, d = build_models(config, data)
    a = data.architecture
    return InspectReport(
        resolution=(a.height, a.width), noise_shape=tuple(a.noise_shape), num_blocks_g=a.num_blocks_g,
        num_blocks_d=a.num_blocks_d, num_blocks_d0=a.num_blocks_d0, num_classes=data.num_classes,
        params_g=count_parameters(g), params_d=count_parameters(d), num_frames=data.num_frames,
        original_size=tuple(data.original_size), source=data.source.to_dict(),
        mask=data.mask_report.to_dict() if data.mask_report else None,
        mask_summary=data.mask_report.describe() if data.mask_report else None,
        notes=list(a.notes) + (list(data.mask_report.notes) if data.mask_report else []),
    )
