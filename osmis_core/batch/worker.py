"""What runs on a Ray worker: one source trained (or resumed) by the engine, then its gallery; and the monitor
actor to which workers report progress.

The functions here are plain Python; the driver wraps them with ray.remote, so this module imports Ray only
where it asks Ray about the node it runs on. A worker never waits on Ray (ray.get) while it holds its CPUs: Ray
lends the CPUs of a blocked task to the next queued one, which would run more runs at once than asked. So the
stop request comes as a file in BATCH (the storage every node shares), polled once a second.
"""

from __future__ import annotations

import collections
import os
import shutil
import threading
import time
import warnings
from pathlib import Path

STOP_POLL_S = 1.0


class BatchMonitor:
    """Progress of the running runs (a Ray actor on the driver's node): workers call started() and progress()
    without waiting for an answer; the driver drains the updates. started() counts attempts per source: 2 and
    more after Ray retried a task whose worker process or node died."""

    def __init__(self):
        self._updates: collections.deque = collections.deque()
        self._attempts: dict[str, int] = {}

    def started(self, name: str, node: str, step: int, total: int, resumed: bool) -> None:
        self._attempts[name] = self._attempts.get(name, 0) + 1
        self._updates.append(("started", name, node, step, total, resumed, self._attempts[name]))

    def progress(self, name: str, step: int, total: int, it_per_s: float, eta: float) -> None:
        self._updates.append(("progress", name, step, total, it_per_s, eta))

    def drain(self) -> list[tuple]:
        out = list(self._updates)
        self._updates.clear()
        return out


def train_source(
    source: dict,
    config: dict,
    batch_root: str,
    n: int,
    cpus: float,
    stop_file: str,
    monitor,
    naming: dict[str, str] | None = None,
) -> dict:
    """Train one source to config's iters (resuming its run folder when it holds a checkpoint), then write its
    gallery of n pairs and score the weight-free pixel diversity. Runs as a Ray task; never raises for the
    user's input: a bad source comes back as status 'failed' with the engine's one-sentence message.

    source: BatchSource.to_dict(); config: OsmisConfig.to_dict() with the source's overrides applied;
    stop_file: when it exists, the run stops after its current iteration with a checkpoint. naming: how the
    source's warnings about its values name an option (sources.batch_naming); one not in it, by its name.
    Returns {"status": finished | stopped | failed, "started": bool, "message", "node", "seconds",
    "train_seconds", "gallery_seconds"}; seconds count this attempt's own work (data, training, checkpoints,
    gallery, metrics). started is False when the batch was stopped before this run began.
    """
    import ray

    from ..config import OsmisConfig
    from ..errors import OsmisError
    from ..threads import configure_threads
    from .layout import BatchFolder

    # the worker is this run's entry point: its thread plan is the CPU allotment (OMP_* came via runtime_env; the
    # governor sets torch's count in this thread, also in a reused worker that loaded torch for another allotment)
    configure_threads(max(1, int(cpus))).governor().check()
    t0 = time.perf_counter()
    name = source["name"]
    node = ray.get_runtime_context().get_node_id()
    result = {
        "status": "failed",
        "started": True,
        "message": "",
        "node": node,
        "seconds": 0.0,
        "train_seconds": 0.0,
        "gallery_seconds": 0.0,
    }
    stop = Path(stop_file)
    if stop.exists():
        result.update(status="stopped", started=False, message="not started: the batch was stopped")
        return result
    batch = BatchFolder(batch_root)
    try:
        cfg = OsmisConfig.from_dict(config, f"source {name}")
        result.update(_train(source, cfg, batch, stop, monitor, node, result, naming or {}))
        if result["status"] == "finished":
            t1 = time.perf_counter()
            _gallery(batch, name, cfg, n, source)
            result["gallery_seconds"] = time.perf_counter() - t1
    except OsmisError as exc:
        result.update(status="failed", message=str(exc))
    except OSError as exc:  # the file system said no: a full disk, a read-only or vanished folder
        where = f"{exc.filename}: " if exc.filename else ""
        result.update(status="failed", message=f"{where}{exc.strerror or exc}")
    result["seconds"] = time.perf_counter() - t0
    return result


def _train(source: dict, cfg, batch, stop: Path, monitor, node: str, result: dict, naming: dict[str, str]) -> dict:
    from ..application.runfolder import RunFolder
    from ..application.session import health_stop_message, resume_training, start_training
    from ..events import HealthEvent, StepStats, TrainControl, TrainingFailed, TrainingFinished

    name = source["name"]
    run_dir = batch.run_dir(name)
    folder = RunFolder(run_dir)
    total = cfg.run.iters
    step = folder.latest_step() if folder.exists() else None
    if folder.exists() and step is None:
        # created by an attempt that died before its first checkpoint: nothing in it to keep, unless a training of
        # the run (a terminal's, before its first checkpoint) is writing it now
        folder.check_not_training()
        shutil.rmtree(run_dir)
    if step is not None and step >= total:
        monitor.started.remote(name, node, step, total, True)
        return {"status": "finished"}

    def named(option: str) -> str:
        return naming.get(option, f"option '{option}'")

    # what the engine warns about while it reads the data (a video that stops decoding half-way, a dark 16-bit
    # image) goes into the source's summary row: on a worker no one sees a warning printed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if step is not None:
            # the batch's config, nothing typed now
            trainer = resume_training(run_dir, cfg.flat(), typed=(), name_as=named)
        else:
            trainer = start_training(cfg, source["data"], run_dir, source.get("mask"), name_as=named)
    notes = "; ".join(f"warning: {str(w.message).rstrip('.')}" for w in caught)  # one sentence: not ".; "
    resumed = step is not None
    # the run's training lock, held by the trainer from its start, is let go however this ends (Trainer.close):
    # the worker process serves the next run
    with trainer:
        monitor.started.remote(name, node, trainer.step, total, resumed)
        control = TrainControl()
        done = threading.Event()

        def watch_stop():
            while not done.wait(STOP_POLL_S):
                if stop.exists():
                    control.request_stop()
                    return

        watcher = threading.Thread(target=watch_stop, name="osmis-batch-stop", daemon=True)
        watcher.start()
        t0 = time.perf_counter()
        status, message = "failed", "training ended without a result"
        halt = None  # the HealthEvent that stopped the run (--on-collapse stop): a failure, not a stop to resume
        try:
            for event in trainer.run(control, resumed=resumed):
                if isinstance(event, StepStats):
                    monitor.progress.remote(name, event.step, event.total, event.it_per_s, event.eta)
                elif isinstance(event, HealthEvent) and event.action == "stop":
                    halt = event
                elif isinstance(event, TrainingFailed):
                    status, message = "failed", event.message
                elif isinstance(event, TrainingFinished) and halt is not None:
                    status, message = "failed", health_stop_message(halt, folder)
                elif isinstance(event, TrainingFinished):
                    status, message = (
                        ("stopped", f"stopped at step {event.step}; resumable") if event.stopped else ("finished", "")
                    )
        finally:
            done.set()
            watcher.join()
    result["train_seconds"] = time.perf_counter() - t0
    if notes and status != "failed":
        message = f"{message}; {notes}" if message else notes
    return {"status": status, "message": message}


def _gallery(batch, name: str, cfg, n: int, source: dict) -> None:
    from ..application.evaluation import evaluate_gallery
    from ..application.gallery import generate_gallery
    from ..application.runfolder import RunFolder

    out = batch.gallery_dir(name)
    if batch.is_complete(name, cfg.run.iters, n):
        return
    # an older gallery of this run is replaced as every gallery is (gallery.staging_folder): whole, and only when
    # it holds nothing else (a user's file kept there makes the source fail naming it, the file untouched)
    generate_gallery(batch.run_dir(name), out, n=n, seed=cfg.run.seed, device=cfg.run.device)
    if n >= 2:
        info = RunFolder(batch.run_dir(name)).read_run_json().get("data", {})
        evaluate_gallery(
            out,
            info.get("path") or source["data"],
            info.get("mask_path"),
            metrics=["diversity"],
            max_classes=cfg.data.max_classes,
            background_colour=cfg.data.background_color,
        )


def check_storage(path: str, token: str) -> str | None:
    """On a worker node: None when `path` holds the driver's probe file with `token` and is writable there, else
    the problem in words."""
    probe = Path(path) / f".osmis-batch-probe-{token}"
    try:
        if probe.read_text(encoding="utf-8") != token:
            return f"{probe} holds another batch's probe"
    except OSError as exc:
        return f"{path} is not the driver's folder there ({exc.strerror or exc})"
    test = Path(path) / f".osmis-batch-write-{token}-{os.getpid()}"
    try:
        test.write_bytes(b"")
        test.unlink()
    except OSError as exc:
        return f"{path} cannot be written there ({exc.strerror or exc})"
    return None
