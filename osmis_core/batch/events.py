"""Typed events of a batch (one stream for the whole batch, like Trainer.run's for one run) and its stop control."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class BatchStarted:
    out: Path
    sources: tuple[str, ...]  # every source name, in listing order
    to_run: tuple[str, ...]  # those that will train or resume (the others are finished or unusable)
    resources: dict = field(default_factory=dict)  # Ray's cluster resources, e.g. {"CPU": 2.0, "GPU": 0.0}


@dataclass(frozen=True)
class RunStarted:
    name: str
    node: str  # Ray node id the run landed on
    step: int  # the step it starts from (> 0 when resumed)
    total: int
    resumed: bool
    attempt: int  # 1, or more after a worker or node died and Ray retried the task


@dataclass(frozen=True)
class RunProgress:
    name: str
    step: int
    total: int
    it_per_s: float
    eta: float  # seconds to the end of this run at its current speed


@dataclass(frozen=True)
class RunFinished:
    """status: finished (trained and gallery written), skipped (already finished by an earlier batch), stopped
    (Ctrl-C / control.request_stop: checkpointed, resumable), pending (not started because the batch was
    stopped), failed (message names the file and the problem)."""

    name: str
    status: str
    step: int
    total: int
    message: str = ""
    record: dict = field(default_factory=dict)  # the source's summary row


@dataclass(frozen=True)
class DatasetWritten:
    """The merged dataset, written when at least one run finished (a batch with none writes no dataset)."""

    path: Path  # BATCH/dataset
    pairs: int


@dataclass(frozen=True)
class BatchFinished:
    out: Path
    counts: dict[str, int]  # status -> number of sources
    stopped: bool
    seconds: float
    dataset: Path | None = None  # BATCH/dataset; None when no run finished, so no dataset was written


BatchEvent = BatchStarted | RunStarted | RunProgress | RunFinished | DatasetWritten | BatchFinished


class BatchControl:
    """Thread-safe stop request: running runs stop after their current iteration and save a checkpoint, queued
    runs are not started; a later batch resumes them."""

    def __init__(self):
        self._stop = threading.Event()

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()
