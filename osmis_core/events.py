"""Typed events emitted by the trainer, and the control object through which a caller stops or pauses it."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class TrainingStarted:
    run_dir: Path
    step: int                   # first step to run is step + 1
    total: int
    resumed: bool
    description: dict = field(default_factory=dict)   # data, architecture, parameter counts, device


@dataclass(frozen=True)
class IterationDone:
    """After every iteration (losses stay on the device: they are read back only for StepStats)."""
    step: int
    total: int


@dataclass(frozen=True)
class StepStats:
    step: int
    total: int
    losses: dict[str, float]    # every loss term, G and D
    d_real: float               # mean D logit on reals
    d_fake: float               # mean D logit on fakes
    it_per_s: float
    elapsed: float              # seconds of training in this session
    eta: float                  # seconds to the end of the run at the current speed
    extra: dict[str, float] = field(default_factory=dict)   # e.g. p_aug, the adapted augmentation probability


@dataclass(frozen=True)
class StepEval:
    """Training metrics of the EMA generator on fixed noise (osmis_core/training/monitor.py).

    metrics: diversity (pixel diversity, >= 0, higher = more varied), mask_shares (total-variation distance in
    [0, 1] between the generated and the real masks' class shares; absent without masks), and sifid (Inception
    features) or sifid_proxy (random-feature proxy, not comparable with published SIFID), lower = closer to the
    training image. best: this evaluation became checkpoints/best.pt.
    """
    step: int
    metrics: dict[str, float]
    best: bool = False


@dataclass(frozen=True)
class HealthEvent:
    """A health check fired (osmis_core/training/health.py).

    kind: "nonfinite", "d_spike", "diversity_collapse" or "empty_masks"; action: what the trainer does about it,
    "warn", "stop" or "rollback" (nonfinite always stops).
    """
    step: int
    kind: str
    message: str
    action: str


@dataclass(frozen=True)
class RolledBack:
    """Training went back to the checkpoint of step `to_step` with the discriminator's learning rate `lr_d`."""
    step: int                   # where the fault was found
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
    stopped: bool               # True when stopped by request before the last iteration


@dataclass(frozen=True)
class TrainingFailed:
    step: int
    message: str
    details: str = ""           # traceback for the log
    user_error: bool = False    # the user can fix it (full disk, divergence, memory): the CLI exits 2, else 1


Event = (TrainingStarted | IterationDone | StepStats | StepEval | HealthEvent | RolledBack | PreviewReady
         | CheckpointSaved | TrainingPaused | TrainingResumed | TrainingFinished | TrainingFailed)


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
