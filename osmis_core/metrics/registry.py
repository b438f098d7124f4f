"""The metrics registry: one entry per metric, read by `evaluate_images`, the CLI and the app.

An entry says what a metric is called, which pretrained files it needs, which keys it writes into the summary
and into each image's row, which way is better, and how to build it (`factory`). The factory returns a
`Metric`: a small streaming interface in the manner of torchmetrics (`update` per batch, `compute` once,
`reset` to start over), whose `compute` returns the entry's keys. Adding an entry to REGISTRY adds a metric
everywhere (the `--metrics` flag, metrics.json / metrics.csv, index.html and the app's score columns).

This module imports no torch, so that the CLI's parser and help read it cheaply: the registered factories are
`LazyFactory` references to the Metric adapters in metrics.scores, imported when a metric is first built.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from osmis_core.errors import ConfigError

from .inception_layers import INCEPTION_LAYERS, INCEPTION_MIN_SIZE
from .miou_settings import FULL, MIN_SIZE, MIoUSetting, Progress
from .weight_files import ALEXNET, INCEPTION_V3, LPIPS_ALEX_HEADS, RESNET18, WeightsFile

if TYPE_CHECKING:
    import torch


class Scores(NamedTuple):
    """What a Metric computed: summary values, per-image columns (one value per generated image, in order) and
    the settings it ran with (written to metrics.json under `settings`)."""

    summary: dict[str, float]
    per_image: dict[str, list]
    settings: dict[str, Any] = {}


class Probe(NamedTuple):
    """What the evaluation measured of a metric before its plan: `spent_s` seconds so far (building it, its real
    data and the `fed` first batches), `batch_s` seconds per batch in steady state (the mean over the batches
    after the first, which also pays one-time work), `remaining` batches still to feed."""

    spent_s: float
    batch_s: float
    remaining: int
    fed: int


class Metric(ABC):
    """One score of a stream of generated images. `set_real` once, `update` with each batch (N x 3 x H x W in
    [0, 1], and N x H x W int64 masks for metrics that use them), `compute` at the end, `reset` to score
    another stream against the same real data."""

    def set_real(self, real_images: torch.Tensor, real_masks: torch.Tensor | None = None) -> None:  # noqa: B027
        """The training image(s) (T x 3 x H x W in [0, 1]) and their masks (T x H x W) when the metric uses them."""

    @abstractmethod
    def update(self, fake_images: torch.Tensor, fake_masks: torch.Tensor | None = None) -> None:
        """Add a batch of generated images (and masks)."""

    @abstractmethod
    def compute(self) -> Scores:
        """The scores of everything added since the last reset."""

    @abstractmethod
    def reset(self) -> None:
        """Forget the generated images added so far."""

    def estimate(self, probe: Probe) -> dict[str, float]:
        """Seconds each phase of the whole job takes on this device, from what the evaluation measured of the
        first batches (`probe`); the plan's figure for this metric is their sum, and the evaluation reports the
        seconds each phase really took (`phase_seconds`) under the same names. A metric may do reusable work here
        (the mIoU segmenter's first training steps) and counts it in its phases.

        The default suits metrics whose cost is in `update`: "update" is the set-up and every batch, and
        "compute" is free (it only gathers what `update` produced). A metric whose `compute` does work
        overrides this and names that work's phases."""
        return {"update": probe.spent_s + probe.batch_s * probe.remaining, "compute": 0.0}

    def phase_seconds(self) -> dict[str, float]:
        """Seconds each phase of the last `compute` took, under the names `estimate` gives them; empty by default
        (the evaluation then times `compute` as one phase, "compute")."""
        return {}

    def describe(self) -> str:
        """A few words on how this metric will run (shown next to its estimate); empty by default."""
        return ""


@dataclass
class MetricContext:
    """What factories get: the request's options and a cache so that metrics share networks."""

    size: tuple[int, int]  # (h, w) of the generated images
    num_images: int
    sifid_dims: tuple[int, ...] = (64,)
    weights_dir: str | Path | None = None
    random_weights: bool = False
    lpips_unit_range_inputs: bool = False
    video_frame0_only: bool = False
    device: str | torch.device = "cpu"
    batch_size: int = 8
    num_classes: int = 0  # mask classes of the generated and real masks together (0 without masks)
    miou: MIoUSetting = FULL
    miou_batch_size: int = 5
    progress: Progress | None = None
    _networks: dict[str, Any] = field(default_factory=dict)

    def network(self, name: str, build: Callable[[], Any]) -> Any:
        """The network `name`, built once per evaluation."""
        if name not in self._networks:
            self._networks[name] = build()
        return self._networks[name]


@dataclass(frozen=True)
class LazyFactory:
    """A Metric factory named "package.module:attribute", imported on the first call, so that reading the registry
    does not import the metric's implementation (torch and its networks)."""

    target: str

    def __call__(self, ctx: MetricContext) -> Metric:
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)(ctx)


@dataclass(frozen=True)
class MetricEntry:
    """One registered metric.

    name: the `--metrics` name; label: shown to people; weights: pretrained files it needs;
    summary_keys / per_image_keys: the keys it writes ("{dims}" expands to each SIFID dims);
    key_labels: a label per key (same templates); higher_is_better: direction of every key;
    factory: builds the Metric (any callable; the registered ones are LazyFactory references, so that the entry
    is read without importing torch); needs_masks: skipped without masks; min_images: skipped below this count;
    min_size: smallest side (pixels) it accepts; needs_spread: skipped when the real images are one flat colour
    (a score relative to their spread); default: part of the default `--metrics`;
    validate: rejects options the metric cannot honour (ConfigError), before anything runs;
    each_image: each generated image is scored on its own against the real data resized to its size, its summary
    the mean of its images' scores, so that pictures of several sizes (a render gallery of layouts of several
    sizes) are scored size by size (application.evaluation); a metric of the set (pairs of generated images, a
    segmenter trained on them) needs pictures of one size.
    """

    name: str
    label: str
    factory: Callable[[MetricContext], Metric]
    summary_keys: tuple[str, ...]
    per_image_keys: tuple[str, ...] = ()
    key_labels: dict[str, str] = field(default_factory=dict)
    weights: tuple[WeightsFile, ...] = ()
    higher_is_better: bool = True
    needs_masks: bool = False
    min_images: int = 1
    min_size: int = 1
    needs_spread: bool = False
    default: bool = True
    validate: Callable[[MetricContext], None] | None = None  # raises ConfigError on a bad request
    each_image: bool = False

    def keys(self, sifid_dims: Sequence[int] = (64,)) -> tuple[list[str], list[str]]:
        """(summary keys, per-image keys) with "{dims}" expanded for each of `sifid_dims`."""
        return _expand(self.summary_keys, sifid_dims), _expand(self.per_image_keys, sifid_dims)


def _expand(templates: Sequence[str], sifid_dims: Sequence[int]) -> list[str]:
    return (
        [t.format(dims=d) for t in templates for d in sifid_dims]
        if any("{dims}" in t for t in templates)
        else list(templates)
    )


REGISTRY: dict[str, MetricEntry] = {}


def register(entry: MetricEntry) -> MetricEntry:
    """Add `entry` to the registry (a name registered twice is an error) and return it."""
    if entry.name in REGISTRY:
        raise ValueError(f"metric '{entry.name}' is already registered")
    REGISTRY[entry.name] = entry
    return entry


def metric_names(default_only: bool = False) -> list[str]:
    """Registered metric names in registry order (only the default ones with `default_only`)."""
    return [name for name, entry in REGISTRY.items() if entry.default or not default_only]


def key_info(key: str) -> tuple[str, bool] | None:
    """(label, higher_is_better) of a summary or per-image key of any registered metric, or None."""
    for entry in REGISTRY.values():
        for template in (*entry.summary_keys, *entry.per_image_keys):
            if "{dims}" in template:
                prefix, _, suffix = template.partition("{dims}")
                dims = (
                    key[len(prefix) : len(key) - len(suffix)] if key.startswith(prefix) and key.endswith(suffix) else ""
                )
                if dims.isdigit():
                    label = entry.key_labels.get(template, entry.label)
                    return label.format(dims=dims), entry.higher_is_better
            elif key == template:
                return entry.key_labels.get(key, entry.label), entry.higher_is_better
    return None


def format_seconds(seconds: float) -> str:
    """'0 s', 'under 1 s', '4 s', '2 min 05 s', '1 h 03 min'."""
    if 0 < seconds < 0.5:
        return "under 1 s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


# ---------------------------------------------------------------- the registered metrics


def _adapter(name: str) -> LazyFactory:
    """The Metric adapter `name` of metrics.scores, imported when first built."""
    return LazyFactory(f"{__package__}.scores:{name}")


def check_sifid_dims(dims) -> None:
    """Raise ConfigError naming --sifid-dims for a layer SIFID is not measured at (checked by `osmis run` before it
    trains, and by every evaluation)."""
    bad_dims = [d for d in dims if d not in INCEPTION_LAYERS]
    if bad_dims:
        raise ConfigError(
            f"--sifid-dims {bad_dims[0]} is not an Inception layer SIFID is measured at; choose from "
            f"{', '.join(map(str, sorted(INCEPTION_LAYERS)))}."
        )


def check_sifid_size(dims, size: tuple[int, int]) -> None:
    """Raise ConfigError naming --sifid-dims for a layer of `dims` deeper than images of size (h, w) reach (checked
    by `osmis run` once the data is loaded, before it trains, and by every evaluation)."""
    too_big = [d for d in dims if min(size) < INCEPTION_MIN_SIZE[d]]
    if too_big:
        raise ConfigError(
            f"--sifid-dims {too_big[0]}: SIFID at dims {too_big[0]} needs images of at least "
            f"{INCEPTION_MIN_SIZE[too_big[0]]} pixels per side, the generated images are {size[0]}x{size[1]}; "
            f"choose a shallower layer (64 needs the fewest) or train larger images (--max-size)."
        )


def _validate_sifid(ctx: MetricContext) -> None:
    check_sifid_dims(ctx.sifid_dims)
    check_sifid_size(ctx.sifid_dims, ctx.size)


register(
    MetricEntry(
        "sifid",
        "SIFID",
        _adapter("SIFIDScore"),
        ("sifid_{dims}",),
        ("sifid_{dims}",),
        {"sifid_{dims}": "SIFID, dims {dims} (lower = better)"},
        (INCEPTION_V3,),
        higher_is_better=False,
        validate=_validate_sifid,
        each_image=True,
    )
)
register(
    MetricEntry(
        "lpips",
        "LPIPS diversity",
        _adapter("LPIPSDiversityScore"),
        ("lpips_diversity",),
        (),
        {"lpips_diversity": "LPIPS diversity (higher = more diverse)"},
        (ALEXNET, LPIPS_ALEX_HEADS),
        min_images=2,
    )
)
register(
    MetricEntry(
        "lpips_train",
        "LPIPS to training data",
        _adapter("LPIPSToTrainScore"),
        ("lpips_to_train",),
        ("lpips_to_train",),
        {"lpips_to_train": "LPIPS to training data (near 0 = copying)"},
        (ALEXNET, LPIPS_ALEX_HEADS),
        each_image=True,
    )
)
register(
    MetricEntry(
        "diversity",
        "pixel diversity",
        _adapter("PixelDiversityScore"),
        ("pixel_diversity",),
        (),
        {"pixel_diversity": "pixel diversity"},
        min_images=2,
        needs_spread=True,
    )
)
register(
    MetricEntry(
        "miou",
        "mIoU",
        _adapter("MIoUScore"),
        ("accuracy_gen_to_real", "miou_gen_to_real", "accuracy_real_to_gen", "miou_real_to_gen"),
        ("accuracy_real_to_gen", "miou_real_to_gen"),
        {
            "accuracy_gen_to_real": "pixel accuracy, train generated / test real",
            "miou_gen_to_real": "mIoU, train generated / test real",
            "accuracy_real_to_gen": "pixel accuracy, train real / test generated",
            "miou_real_to_gen": "mIoU, train real / test generated",
        },
        (RESNET18,),
        needs_masks=True,
        min_size=MIN_SIZE,
    )
)

# Quality measures of galleries made by `osmis render` (docs/renderer.md section 6): computed by
# application.render_evaluation from the renders and their layouts, not through a registry entry; `--metrics`
# accepts them too.
RENDERER_METRICS = ("layout_fidelity", "layout_diversity", "locality", "memorisation", "two_stage_alignment")
