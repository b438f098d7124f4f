"""What runs on a Ray worker: one source trained (or resumed) by the engine, then its gallery; and the monitor
actor through which workers report progress and learn of a stop request.

The functions here are plain Python; the driver wraps them with ray.remote, so this module imports Ray only
where it asks Ray about the node it runs on.
"""
from __future__ import annotations

import collections
import os
import shutil
import threading
import time
from pathlib import Path

STOP_POLL_S = 1.0


class BatchMonitor:
    """Progress and stop flag shared by the driver and the workers (a Ray actor on the driver's node).

    Workers call started() (returns the attempt number: 2 and more after Ray retried a task whose worker or node
    died) and progress(); the driver drains the updates and may request a stop, which workers poll.
    """

    def __init__(self):
        self._updates: collections.deque = collections.deque()
        self._attempts: dict[str, int] = {}
        self._stop = False

    def started(self, name: str, node: str, step: int, total: int, resumed: bool) -> int:
        self._attempts[name] = self._attempts.get(name, 0) + 1
        self._updates.append(("started", name, node, step, total, resumed, self._attempts[name]))
        return self._attempts[name]

    def progress(self, name: str, step: int, total: int, it_per_s: float, eta: float) -> None:
        self._updates.append(("progress", name, step, total, it_per_s, eta))

    def drain(self) -> list[tuple]:
        out = list(self._updates)
        self._updates.clear()
        return out

    def request_stop(self) -> None:
        self._stop = True

    def stop_requested(self) -> bool:
        return self._stop


def train_source(source: dict, config: dict, batch_root: str, n: int, cpus: float, monitor) -> dict:
    """Train one source to config's iters (resuming its run folder when it holds a checkpoint), then write its
    gallery of n pairs and score the weight-free pixel diversity. Runs as a Ray task; never raises for the
    user's input: a bad source comes back as status 'failed' with the engine's one-sentence message.

    source: BatchSource.to_dict(); config: OsmisConfig.to_dict() with the source's overrides applied.
    Returns {"status": finished | stopped | failed, "message", "node", "attempt", "seconds", "train_seconds",
    "gallery_seconds"}; seconds count this attempt's own work (data, training, checkpoints, gallery, metrics).
    """
    import ray
    import torch

    from ..config import OsmisConfig
    from ..errors import OsmisError
    from .layout import BatchFolder

    torch.set_num_threads(max(1, int(cpus)))  # the worker is this run's entry point; OMP_* came via runtime_env
    t0 = time.perf_counter()
    name = source["name"]
    node = ray.get_runtime_context().get_node_id()
    result = {"status": "failed", "message": "", "node": node, "attempt": 0, "seconds": 0.0, "train_seconds": 0.0,
              "gallery_seconds": 0.0}
    if ray.get(monitor.stop_requested.remote()):
        result.update(status="stopped", message="not started: the batch was stopped")
        return result
    batch = BatchFolder(batch_root)
    try:
        cfg = OsmisConfig.from_dict(config, f"source {name}")
        result.update(_train(source, cfg, batch, monitor, node, result))
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


def _train(source: dict, cfg, batch, monitor, node: str, result: dict) -> dict:
    from ..application.runfolder import RunFolder
    from ..events import StepStats, TrainControl, TrainingFailed, TrainingFinished
    from ..application.session import resume_training, start_training

    name = source["name"]
    run_dir = batch.run_dir(name)
    folder = RunFolder(run_dir)
    total = cfg.run.iters
    step = folder.latest_step() if folder.exists() else None
    if folder.exists() and step is None:
        # created by an attempt that died before its first checkpoint: nothing in it to keep
        shutil.rmtree(run_dir)
    if step is not None and step >= total:
        result["attempt"] = _call(monitor.started.remote(name, node, step, total, True)) or 0
        return {"status": "finished"}
    if step is not None:
        trainer = resume_training(run_dir, cfg.flat())
    else:
        trainer = start_training(cfg, source["data"], run_dir, source.get("mask"))
    resumed = step is not None
    result["attempt"] = _call(monitor.started.remote(name, node, trainer.step, total, resumed)) or 0

    control = TrainControl()
    done = threading.Event()

    def watch_stop():
        while not done.wait(STOP_POLL_S):
            if _call(monitor.stop_requested.remote()):
                control.request_stop()
                return

    watcher = threading.Thread(target=watch_stop, name="osmis-batch-stop", daemon=True)
    watcher.start()
    t0 = time.perf_counter()
    status, message = "failed", "training ended without a result"
    try:
        for event in trainer.run(control, resumed=resumed):
            if isinstance(event, StepStats):
                monitor.progress.remote(name, event.step, event.total, event.it_per_s, event.eta)
            elif isinstance(event, TrainingFailed):
                status, message = "failed", event.message
            elif isinstance(event, TrainingFinished):
                status, message = ("stopped", f"stopped at step {event.step}; resumable") if event.stopped \
                    else ("finished", "")
    finally:
        done.set()
        watcher.join()
    result["train_seconds"] = time.perf_counter() - t0
    return {"status": status, "message": message}


def _gallery(batch, name: str, cfg, n: int, source: dict) -> None:
    from ..application.evaluation import evaluate_gallery
    from ..application.generate import generate_gallery
    from ..application.runfolder import RunFolder

    out = batch.gallery_dir(name)
    if batch.is_complete(name, cfg.run.iters, n):
        return
    if out.exists():  # an older or interrupted gallery of this run: the batch owns it, it is written anew
        shutil.rmtree(out)
    generate_gallery(batch.run_dir(name), out, n=n, seed=cfg.run.seed, device=cfg.run.device)
    if n >= 2:
        info = RunFolder(batch.run_dir(name)).read_run_json().get("data", {})
        evaluate_gallery(out, info.get("path") or source["data"], info.get("mask_path"), metrics=["diversity"],
                         max_classes=cfg.data.max_classes, background_colour=cfg.data.background_color)


def _call(ref, timeout: float = 30.0):
    """ray.get on a monitor call; a monitor that cannot be reached must not stop training."""
    import ray
    try:
        return ray.get(ref, timeout=timeout)
    except (ray.exceptions.RayError, TimeoutError):
        return None


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
