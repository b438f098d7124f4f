"""Offline-safe loading of the pretrained networks the metrics use. Nothing here ever downloads.

A weights file is looked up, in order, in the user's `weights_dir`, in the torch hub checkpoint folder
(`torch.hub.get_dir()/checkpoints`, which honours TORCH_HOME) and, for the LPIPS linear heads, in the
`lpips` package that ships them. `random_weights=True` builds every network with a fixed-seed random
initialisation instead: the pipeline then runs anywhere, but its numbers are not comparable with papers.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import lpips
import torch
import torchvision

from osmis_core.errors import ConfigError, OsmisError

from ..config import expand_user
from ..rng import seeded_global_rng
from .weight_files import ALEXNET, INCEPTION_V3, LPIPS_ALEX_HEADS, RESNET18, WEIGHTS_FILES, WeightsFile

RANDOM_SEED = 0


def hub_checkpoint_dir() -> Path:
    """The torch hub checkpoint folder (TORCH_HOME/hub/checkpoints unless torch.hub.set_dir was used)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def check_weights_dir(weights_dir: str | Path | None) -> Path | None:
    """The --weights-dir place as a Path (None when not given): a folder holding weights files, or one weights file
    itself (metrics spec: "accept an explicit file or directory"), named as weight_files names it. Refuses a missing
    path, or a file of another name (ConfigError): which network it is for would be a guess. `osmis run` asks before
    it trains, so that a typo is not found after the training."""
    if weights_dir is None:
        return None
    path = expand_user(weights_dir)
    if path.is_file():
        if path.name not in {f.filename for f in WEIGHTS_FILES}:
            raise ConfigError(
                f"{path}: is a file, not a folder, and not one of the weights files "
                f"({', '.join(f.filename for f in WEIGHTS_FILES)}); --weights-dir names one of those files or the "
                "folder that holds them."
            )
        return path
    if not path.is_dir():
        raise ConfigError(f"{path}: no such folder (--weights-dir).")
    return path


def _weights_folder(weights_dir: str | Path | None) -> Path | None:
    """The folder of --weights-dir: itself, or the folder of the weights file it names (the other files are looked
    up beside that one)."""
    place = check_weights_dir(weights_dir)
    return place.parent if place is not None and place.is_file() else place


def find_weights(file: WeightsFile, weights_dir: str | Path | None = None) -> Path | None:
    """Path of `file` given as --weights-dir itself, in the weights folder (or beside the weights file given), the
    hub cache or its package, or None when absent."""
    folder = _weights_folder(weights_dir)
    candidates = [folder, hub_checkpoint_dir(), file.package_dir]
    for directory in candidates:
        if directory is not None and (directory / file.filename).is_file():
            return directory / file.filename
    return None


class MissingWeightsError(OsmisError):
    """Pretrained weights files are not available offline; `.files` lists every missing WeightsFile."""

    def __init__(self, files: Sequence[WeightsFile], weights_dir: str | Path | None = None):
        self.files = list(files)
        where = str(hub_checkpoint_dir())
        if weights_dir is not None:
            given = Path(weights_dir).expanduser()
            where = f"{given.parent if given.is_file() else given} or {where}"  # beside a weights file given
        listed = "; ".join(f"{f.filename} for {f.used_by}, download it from {f.url}" for f in self.files)
        super().__init__(
            f"pretrained weights missing ({listed}); put the file(s) in {where}, "
            f"or use random weights (scores then are not comparable with published numbers)"
        )


def missing_weights(files: Sequence[WeightsFile], weights_dir: str | Path | None = None) -> list[WeightsFile]:
    """The subset of `files` that cannot be found offline."""
    return [f for f in files if find_weights(f, weights_dir) is None]


def require_weights(files: Sequence[WeightsFile], weights_dir: str | Path | None = None) -> None:
    """Raise one MissingWeightsError naming every file of `files` that is missing."""
    missing = missing_weights(files, weights_dir)
    if missing:
        raise MissingWeightsError(missing, weights_dir)


def load_state_dict(file: WeightsFile, weights_dir: str | Path | None = None) -> dict[str, torch.Tensor]:
    """Load a weights file as a state dict on the CPU; MissingWeightsError when it is absent."""
    path = find_weights(file, weights_dir)
    if path is None:
        raise MissingWeightsError([file], weights_dir)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated download or a wrong file: say which file, not a traceback
        raise OsmisError(
            f"cannot read weights file {path} ({exc}); delete it and download it again from {file.url}"
        ) from exc


def _fill(module: torch.nn.Module, state: dict[str, torch.Tensor], file: WeightsFile) -> None:
    """module.load_state_dict(state), with an error naming the file when it does not fit."""
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        reason = str(exc).splitlines()[0]
        raise OsmisError(
            f"weights file {file.filename} does not fit {file.used_by} ({reason}); download it again from {file.url}"
        ) from exc


@contextlib.contextmanager
def seeded(seed: int = RANDOM_SEED) -> Iterator[None]:
    """Run the block with the CPU RNG seeded to `seed`, restoring the caller's RNG state afterwards (one seeded
    section of the process at a time: osmis_core.rng)."""
    with seeded_global_rng(seed, restore=True):
        yield


def build_inception(weights_dir: str | Path | None = None, random_weights: bool = False) -> torch.nn.Module:
    """torchvision Inception v3 in eval mode, ImageNet weights or a fixed-seed random initialisation."""
    if random_weights:
        with seeded():
            model = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=True)
    else:
        state = load_state_dict(INCEPTION_V3, weights_dir)
        model = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
        _fill(model, state, INCEPTION_V3)
    return model.eval()


def build_lpips(weights_dir: str | Path | None = None, random_weights: bool = False) -> lpips.LPIPS:
    """lpips.LPIPS (AlexNet, v0.1) in eval mode; the backbone is loaded here, never downloaded.

    With `random_weights` the backbone gets a fixed-seed random initialisation; the linear heads still come
    from the lpips package when it ships them (random too otherwise).
    """
    heads = find_weights(LPIPS_ALEX_HEADS, weights_dir)
    if not random_weights:
        require_weights([ALEXNET, LPIPS_ALEX_HEADS], weights_dir)
    with seeded(), warnings.catch_warnings():
        # lpips builds its trunk with torchvision's deprecated `pretrained=` argument.
        warnings.filterwarnings("ignore", category=UserWarning, module="torchvision.models._utils")
        model = lpips.LPIPS(
            net="alex",
            version="0.1",
            pretrained=heads is not None,
            pnet_rand=True,
            model_path=None if heads is None else str(heads),
            verbose=False,
        )
    if not random_weights:
        _load_alexnet_trunk(model, load_state_dict(ALEXNET, weights_dir))
    return model.eval()


def _load_alexnet_trunk(model: lpips.LPIPS, state: dict[str, torch.Tensor]) -> None:
    """Copy torchvision AlexNet `features.<i>.*` weights into lpips' trunk slices (named `<i>` there too)."""
    trunk = {}
    for slice_name, block in model.net.named_children():
        for index, _ in block.named_children():
            for param in ("weight", "bias"):
                key = f"features.{index}.{param}"
                if key in state:
                    trunk[f"{slice_name}.{index}.{param}"] = state[key]
    _fill(model.net, trunk, ALEXNET)


def build_resnet18(weights_dir: str | Path | None = None, random_weights: bool = False) -> torch.nn.Module:
    """torchvision ResNet-18 with ImageNet weights, or a fixed-seed random initialisation."""
    with seeded():
        model = torchvision.models.resnet18(weights=None)
    if not random_weights:
        _fill(model, load_state_dict(RESNET18, weights_dir), RESNET18)
    return model
