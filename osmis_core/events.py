"""Typed events emitted by the long jobs (training, gallery generation), and the control object through which a
caller stops or pauses training."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class RunDescription:
    """What a training run trains on and with: the payload of TrainingStarted and the facts of run.json."""

    data: dict  # source, original_size [W, H], num_frames, resolution [H, W], num_classes, mask
    architecture: dict  # height, width, noise_shape, num_blocks_g/_d/_d0, notes
    device: str
    params_g: int
    params_d: int
    model: str = "osmis"  # osmis | renderer

    @property
    def notes(self) -> list[str]:
        return list(self.architecture.get("notes", []))

    def summary(self) -> str:
        """One line: resolution, blocks, classes, parameter counts and device."""
        a = self.architecture
        blocks = (
            f"n_g={a['num_blocks_g']} n_d={a['num_blocks_d']} n_d0={a['num_blocks_d0']}"
            if self.model == "osmis"
            else f"renderer, {a.get('num_blocks', '?')} SPADE blocks"
        )
        return (
            f"{a['width']}x{a['height']}, {blocks}, classes={self.data.get('num_classes')}, G {self.params_g:,} / "
            f"D {self.params_d:,} parameters, on {self.device}"
        )


@dataclass(frozen=True)
class TrainingStarted:
    run_dir: Path
    step: int  # first step to run is step + 1
    total: int
    resumed: bool
    description: RunDescription

    def summary(self) -> str:
        """The "run started" sentence that every face prints (notes follow as `note: ...` lines)."""
        word = "resumed" if self.resumed else "started"
        lines = [f"{word} at iteration {self.step:,} of {self.total:,} in {self.run_dir}: {self.description.summary()}"]
        return "\n".join(lines + [f"note: {n}" for n in self.description.notes])


@dataclass(frozen=True)
class IterationDone:
    """After every iteration (losses stay on the device: they are read back only for StepStats)."""

    step: int
    total: int


@dataclass(frozen=True)
class StepStats:
    step: int
    total: int
    losses: dict[str, float]  # every loss term, G and D
    d_real: float  # mean D logit on reals
    d_fake: float  # mean D logit on fakes
    it_per_s: float
    elapsed: float  # seconds of training in this session
    eta: float  # seconds to the end of the run at the current speed
    extra: dict[str, float] = field(default_factory=dict)  # e.g. p_aug, the adapted augmentation probability


@dataclass(frozen=True)
class StepEval:
    """Training metrics of the EMA generator on fixed noise (osmis_core/training/monitor.py).

    metrics: diversity (pixel diversity, >= 0, higher = more varied), mask_shares (total-variation distance in
    [0, 1] between the generated and the real masks' class shares; absent without masks), class_coverage (in
    [0, 1]: over the classes of the real masks, the lowest share of samples in which the class appears; 0 = some
    real class is in no sample; absent without masks), and sifid (Inception features) or sifid_proxy
    (random-feature proxy, not comparable with published SIFID), lower = closer to the training image. The keys
    are EVAL_METRICS and SIFID_METRICS. best: this evaluation became checkpoints/best.pt. per_class: per metric
    name, its value for each class id (class_coverage: None for a class absent from the real masks); written to
    stats.jsonl as `<name>_per_class`.
    """

    step: int
    metrics: dict[str, float]
    best: bool = False
    per_class: dict[str, list[float | None]] = field(default_factory=dict)


# StepEval.metrics keys: the training metrics on a 0..1-like scale, and SIFID (its own scale), for faces that
# group them (the app's curves)
EVAL_METRICS = ("diversity", "mask_shares", "class_coverage")
SIFID_METRICS = ("sifid", "sifid_proxy")


@dataclass(frozen=True)
class HealthEvent:
    """A health check fired (osmis_core/training/health.py).

    kind: "nonfinite", "d_spike", "diversity_collapse", "empty_masks" or "missing_class"; action: what the
    trainer does about it, "warn", "stop" or "rollback" (nonfinite always stops; missing_class, which is not a
    collapse, always warns).
    """

    step: int
    kind: str
    message: str
    action: str


@dataclass(frozen=True)
class RolledBack:
    """Training went back to the checkpoint of step `to_step` with the discriminator's learning rate `lr_d`."""

    step: int  # where the fault was found
    to_step: int
    lr_d: float
    reason: str


@dataclass(frozen=True)
class PreviewReady:
    step: int
    path: Path


@dataclass(frozen=True)
class CheckpointSaved:
    step: int
    path: Path


@dataclass(frozen=True)
class TrainingPaused:
    step: int


@dataclass(frozen=True)
class TrainingResumed:
    step: int


@dataclass(frozen=True)
class TrainingFinished:
    step: int
    run_dir: Path
    stopped: bool  # True when stopped by request before the last iteration


@dataclass(frozen=True)
class TrainingFailed:
    step: int
    message: str
    details: str = ""  # traceback for the log
    user_error: bool = False  # the user can fix it (full disk, divergence, memory): the CLI exits 2, else 1


@dataclass(frozen=True)
class GenerationStarted:
    total: int  # samples to write
    out_dir: Path  # the gallery folder it will become


@dataclass(frozen=True)
class SamplesWritten:
    done: int  # samples whose files are written
    total: int


@dataclass(frozen=True)
class GenerationFinished:
    out_dir: Path
    total: int
    seconds: float


GenerationEvent = GenerationStarted | SamplesWritten | GenerationFinished


def run_gallery_stream(
    events: Iterable[GenerationEvent], on_event: Callable[[GenerationEvent], None] | None = None
) -> Path | None:
    """Drain a gallery's event stream (generate, render), passing each event to on_event; the folder its
    GenerationFinished names (None if the stream ended without one)."""
    path = None
    for event in events:
        if on_event is not None:
            on_event(event)
        if isinstance(event, GenerationFinished):
            path = event.out_dir
    return path


Event = (
    TrainingStarted
    | IterationDone
    | StepStats
    | StepEval
    | HealthEvent
    | RolledBack
    | PreviewReady
    | CheckpointSaved
    | TrainingPaused
    | TrainingResumed
    | TrainingFinished
    | TrainingFailed
)


class TrainControl:
    """Thread-safe stop / pause requests, honoured by the trainer between iterations."""

    def __init__(self):
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def request_stop(self) -> None:
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self, timeout: float = 0.1) -> None:
        self._running.wait(timeout)
