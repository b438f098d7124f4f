"""run_batch: one model per source, scheduled by Ray, as a stream of typed events."""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import os
import secrets
import signal
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

from ..application.runfolder import in_run_files, output_place_problem
from ..config import MAX_SAMPLES, OsmisConfig
from ..errors import ConfigError, OsmisError
from ..files import LockHeld, atomic_write_text, discard_made, exclusive_lock, first_missing, resolved_path
from ..stops import Terminated
from ..threads import thread_env
from .dataset import merge_dataset
from .events import (
    BatchControl,
    BatchEvent,
    BatchFinished,
    BatchStarted,
    DatasetWritten,
    RunFinished,
    RunProgress,
    RunStarted,
)
from .layout import LOCK_NAME, BatchFolder
from .sources import BatchSource, batch_naming, list_sources, mark_repeats, source_config
from .summary import read_summary, run_row, write_summary
from .worker import BatchMonitor, check_storage, train_source

POLL_S = 0.25
# the most --retries: a run whose worker died this often is not coming back (and Ray takes no more than a C long)
MAX_RETRIES = 1000
# seconds to wait for a HOST:PORT given as --address to accept a connection (Ray's own wait is minutes)
ADDRESS_TIMEOUT_S = 5


def run_batch(
    sources: str | Path | Sequence[BatchSource],
    config: OsmisConfig,
    out: str | Path,
    *,
    n_per_source: int = 100,
    address: str | None = None,
    num_cpus: int | None = None,
    num_gpus: int | None = None,
    cpus_per_run: float = 1,
    gpus_per_run: float | None = None,
    max_concurrent: int | None = None,
    retries: int = 3,
    control: BatchControl | None = None,
    typed: Collection[str] = (),
) -> Iterator[BatchEvent]:
    """Train one model per source on Ray, write each run's gallery, the merged dataset and the summary.

    sources: a SOURCES folder or list file (see list_sources) or BatchSource objects. config: the batch's
    options; each source's overrides apply over it. out: BATCH; runs go to BATCH/runs/<source>/.
    Ray: when Ray is already initialised in this process it is used as it is; else with `address` (auto or
    HOST:PORT) the existing cluster is joined, BATCH must then be on storage that every node mounts at the same
    path (checked on each node before anything runs; ConfigError otherwise); without it a local Ray is started
    with num_cpus / num_gpus (default: this machine's). Each run reserves cpus_per_run CPUs and gpus_per_run
    GPUs (fractions let several runs share one GPU; default: 1 when the Ray cluster has GPUs, else 0; a run
    given no GPU trains on the CPU when its device option is auto); at most max_concurrent run at once
    (default: as many as the resources allow). A run whose worker process or node dies is retried up to
    `retries` times and resumes from its last checkpoint.
    Re-running the same batch skips finished runs (iterations reached and gallery written) and resumes the
    others. control.request_stop(): running runs stop after their current iteration with a checkpoint. typed: the
    options of `config` the user typed as flags, named so when a source's override breaks a rule with one
    (sources.source_config).
    Raises OsmisError subclasses for unusable SOURCES, options or BATCH; a bad source does not raise, it is
    reported (RunFinished status 'failed', its message naming the file and the problem) and the others go on.
    """
    import ray

    t0 = time.perf_counter()
    control = control or BatchControl()
    # written so that nan and inf (which float() reads from the command line) are refused here too, before a Ray
    # starts and the batch folder is made, not by a late "no Ray node has nan CPU(s)"; the sentence names the one
    # option that is wrong and its value (it listed the rules of all four)
    # (--n-per-source is each run's gallery, of at most MAX_SAMPLES as osmis generate's --n: refused after training
    # every source otherwise, each failed under generate's flag name; a --retries past C's long stopped the batch
    # with Ray's OverflowError; a negative --num-cpus / --num-gpus was only refused by the Ray it had started)
    for flag, value, ok, rule in (
        ("--n-per-source", n_per_source, 1 <= n_per_source <= MAX_SAMPLES, f"a whole number from 1 to {MAX_SAMPLES:,}"),
        ("--cpus-per-run", cpus_per_run, 0 < cpus_per_run < math.inf, "a number above 0"),
        ("--gpus-per-run", gpus_per_run, gpus_per_run is None or 0 <= gpus_per_run < math.inf, "a number at least 0"),
        ("--retries", retries, 0 <= retries <= MAX_RETRIES, f"a whole number from 0 to {MAX_RETRIES:,}"),
        ("--max-concurrent", max_concurrent, max_concurrent is None or max_concurrent >= 1, "at least 1"),
        ("--num-cpus", num_cpus, num_cpus is None or num_cpus >= 1, "at least 1"),
        ("--num-gpus", num_gpus, num_gpus is None or num_gpus >= 0, "at least 0"),
    ):
        if not ok:
            raise ConfigError(f"{flag} must be {rule}, got {value:,}.")
    if address:
        for flag, value in (("--num-cpus", num_cpus), ("--num-gpus", num_gpus)):
            if value is not None:  # ray.init takes a joined cluster's resources as its nodes give them
                raise ConfigError(
                    f"{flag} sizes a local Ray only; with --address {address} the cluster's nodes give the "
                    f"resources: leave {flag} out (or --address, to start a local Ray)."
                )
        _check_address(address)

    def resolve(overrides):
        return source_config(config, overrides, typed).flat()

    batch = BatchFolder(resolved_path(Path(out)))
    if isinstance(sources, (str, Path)):
        source_list = list_sources(sources, resolve, batch.runs)  # the names its runs have keep
    else:
        source_list = mark_repeats(list(sources), resolve)
    own = in_run_files(batch.root)
    if own is not None:  # every source's new run would be refused there (session.start_training)
        raise ConfigError(
            f"{out}: a batch's runs cannot go in {own}, a folder of another run's own files; give an --out outside it."
        )
    place = output_place_problem(batch.root, "batch")
    if place is not None:  # a batch inside a gallery: the gallery would hold files not its own
        raise ConfigError(f"{out}: {place}.")
    refused = batch.refusal()
    if refused is not None:
        raise ConfigError(f"{out}: {refused}; give a new or empty folder, or an earlier batch's, as --out.")
    made = first_missing(batch.root)
    try:
        batch.runs.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OsmisError(f"{batch.root}: the batch folder cannot be written ({exc.strerror or exc}).") from None

    # held until the batch ends, is stopped or fails; a BATCH this call made goes again if it is refused first
    with _only_driver(batch), _unmade_if_refused(batch, made) as started:
        previous = read_summary(batch)
        configs: dict[str, OsmisConfig] = {}
        namings: dict[str, dict[str, str]] = {}  # how each source's warnings name an option (batch_naming)
        rows: dict[str, dict] = {}
        to_run: list[BatchSource] = []
        finished_early: list[RunFinished] = []
        for s in source_list:
            try:
                configs[s.name] = source_config(config, s.options, typed)
                namings[s.name] = batch_naming(config, s.options, typed)
            except ConfigError as exc:
                problem = f"source {s.name}: {exc}"
            else:
                _check_run_options(batch, s, configs[s.name])
                problem = s.problem or _other_data(batch, s)
            total = configs[s.name].run.iters if s.name in configs else config.run.iters
            if problem:
                rows[s.name] = run_row(batch, s, "failed", total, problem)
                finished_early.append(RunFinished(s.name, "failed", 0, total, problem, rows[s.name]))
            elif batch.is_complete(s.name, total, n_per_source):
                old = previous.get(s.name, {})
                rows[s.name] = run_row(
                    batch, s, "finished", total, "", old.get("seconds"), old.get("node"), old.get("attempts")
                )
                finished_early.append(RunFinished(s.name, "skipped", total, total, "", rows[s.name]))
            else:
                rows[s.name] = run_row(batch, s, "pending", total)
                to_run.append(s)

        started_ray = False
        if not ray.is_initialized():
            sigterm = _sigterm_handler()
            try:
                ray.init(
                    address=address,
                    num_cpus=None if address else num_cpus,
                    num_gpus=None if address else num_gpus,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                )
            except Exception as exc:  # noqa: BLE001 - Ray raises a plain Exception when its local node times out starting
                where = f"the Ray cluster at {address}" if address else "a local Ray"
                raise OsmisError(f"cannot start or join {where} ({str(exc).strip().splitlines()[0][:200]}).") from None
            except SystemExit as exc:
                # SIGTERM while Ray starts (seconds) met the handler ray.init sets, sys.exit(SIGTERM): the command
                # ended with exit 15 and no word; it is the stop it is everywhere else, what was started given up
                if exc.code != signal.SIGTERM:
                    raise
                ray.shutdown()
                raise Terminated from None
            finally:
                _restore_sigterm(sigterm)
            started_ray = True
        stopped = False
        try:
            if address or not started_ray:
                _check_shared_storage(batch.root)
            if gpus_per_run is None:
                gpus_per_run = 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
            _check_resources(cpus_per_run, gpus_per_run)
            started.set()
            yield BatchStarted(
                batch.root,
                tuple(s.name for s in source_list),
                tuple(s.name for s in to_run),
                {k: float(v) for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")},
            )
            yield from finished_early
            stopped = yield from _schedule(
                batch,
                to_run,
                configs,
                namings,
                rows,
                n_per_source,
                cpus_per_run,
                gpus_per_run,
                max_concurrent,
                retries,
                control,
            )
        finally:
            if started_ray:
                ray.shutdown()
                _rearm_sigterm()

        ordered = [rows[s.name] for s in source_list]
        done = [r["name"] for r in ordered if r["status"] == "finished"]
        pairs = merge_dataset(batch, done)
        if pairs is not None:
            yield DatasetWritten(batch.dataset, pairs)
        seconds = time.perf_counter() - t0
        write_summary(
            batch,
            ordered,
            {
                "out": str(batch.root),
                "n_per_source": n_per_source,
                "config": config.to_dict(),
                "stopped": stopped,
                "seconds": round(seconds, 3),
                "dataset_pairs": pairs,
            },
        )
        counts = {k: sum(r["status"] == k for r in ordered) for k in ("finished", "stopped", "failed", "pending")}
        yield BatchFinished(batch.root, counts, stopped, seconds, None if pairs is None else batch.dataset)


@contextlib.contextmanager
def _only_driver(batch: BatchFolder) -> Iterator[None]:
    """Hold BATCH/.lock (files.exclusive_lock) while the batch runs: a second `osmis batch` into the same folder
    while one runs would train the same runs at once, two trainings writing one run folder's checkpoints and stats.
    Refused in one sentence (OsmisError) naming the folder."""
    locked = False
    try:
        with exclusive_lock(batch.root / LOCK_NAME):
            locked = True
            yield
    except LockHeld as held:
        raise OsmisError(
            f"{batch.root}: another osmis batch is running into this folder (process {held.owner}); wait for it to "
            f"end or stop it (Ctrl-C), then run this command again."
        ) from None
    except OSError as exc:
        if locked:  # the batch's own error, not the lock's
            raise
        raise OsmisError(f"{batch.root}: the batch folder cannot be written ({exc.strerror or exc}).") from None


@contextlib.contextmanager
def _unmade_if_refused(batch: BatchFolder, made: Path | None) -> Iterator[threading.Event]:
    """Remove BATCH (made: files.first_missing's answer before it was made; None: it was there) when the batch ends
    before it starts, set on the event it gives: an option refused once Ray is up (--gpus-per-run 0.5 where no
    GPU is), a Ray that cannot start, a stop while it starts left a folder holding only .lock and an empty runs/."""
    started = threading.Event()
    try:
        yield started
    except BaseException:
        if made is not None and not started.is_set():
            discard_made(batch.root, made)  # nothing in it yet but the lock and runs/, made by this call
        raise


def _sigterm_handler():
    """The process's SIGTERM handler before ray.init (None off the main thread, where it cannot be set again)."""
    return signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None


def _restore_sigterm(handler) -> None:
    """Put back the SIGTERM handler that ray.init replaced: Ray sets its own, and the driver's core worker a native
    one that aborts the process (exit 134, no summary, no checkpoint of the running runs), where the caller's
    (the osmis command's: a stop as Ctrl-C's) was to stop the batch."""
    if handler is not None:
        signal.signal(signal.SIGTERM, handler)


def _rearm_sigterm() -> None:
    """Set the process's SIGTERM handler again after ray.shutdown: the driver's core worker, shut down, leaves the
    signal to the system's default beneath Python's handler (signal.getsignal still names it), so a SIGTERM while the
    dataset was merged ended the command at once, exit -15, no summary and the dataset half-linked."""
    handler = _sigterm_handler()
    if handler is not None:
        signal.signal(signal.SIGTERM, handler)


def _other_data(batch: BatchFolder, s: BatchSource) -> str | None:
    """Why the run folder of source `s` cannot be its run: it holds a checkpoint trained on other data (a list
    whose entry under this name now gives another file, two sources of one name listed in another order), which
    would be reported as this source's run and merged into the dataset as its pairs. None when it is the source's
    or holds no checkpoint (a new run starts there)."""
    from ..application.runfolder import RunFolder
    from ..application.session import check_resume_data

    run_dir = batch.run_dir(s.name)
    if RunFolder(run_dir).latest_step() is None:
        return None
    try:
        check_resume_data(run_dir, s.data, s.mask)
    except OsmisError as exc:
        return f"source {s.name}: {exc} Give the source another name, or move the run folder away to train it anew."
    return None


def _check_run_options(batch: BatchFolder, s: BatchSource, cfg: OsmisConfig) -> None:
    """Refuse (ConfigError, before anything is written) a batch whose options for source `s` change one that cannot
    change on resume from its run's (a re-run with another --ch-g): a finished run was skipped and reported as
    finished while summary.json gave the new options, and an unfinished one failed on resume, each dropping its
    pairs from the dataset; the command is what is wrong, not the source."""
    from ..application.runfolder import RunFolder
    from ..application.session import fixed_option_refusal

    if RunFolder(batch.run_dir(s.name)).latest_step() is None:  # nothing trained there yet: a new run starts
        return
    problem = fixed_option_refusal(batch.run_dir(s.name), cfg)
    if problem is not None:
        raise ConfigError(
            f"source {s.name}: {problem.rstrip('.')}; a batch run again keeps its runs' options, so give these "
            f"again, or another --out to train anew."
        )


def _schedule(batch, to_run, configs, namings, rows, n, cpus, gpus, max_concurrent, retries, control):
    """Submit the runs, relay progress, collect results; returns True when stopped by the control."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = ray.get_runtime_context().get_node_id()
    monitor = (
        ray.remote(BatchMonitor)
        .options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False))
        .remote()
    )
    # each run's threads follow its CPU allotment (the thread plan's variables, set before torch loads in the worker)
    threads = max(1, math.floor(cpus))
    task = ray.remote(train_source).options(
        num_cpus=cpus,
        num_gpus=gpus,
        max_retries=retries,
        retry_exceptions=False,
        runtime_env={"env_vars": thread_env(threads, {})},
    )
    stop_file = batch.stop_file(secrets.token_hex(8))
    queue = collections.deque(to_run)
    pending: dict = {}
    attempts: dict[str, int] = {}
    # per running source: [this attempt's start, its last report, the seconds of its earlier attempts] (perf_counter):
    # a worker killed mid-run reports nothing, so its attempt counts until its last progress line
    spent: dict[str, list[float]] = {}
    stop_sent = False
    try:
        while queue or pending:
            if control.stop_requested and not stop_sent:
                atomic_write_text(stop_file, "stop\n")
                stop_sent = True
                while queue:  # never started: they stay 'pending' and a later batch runs them
                    s = queue.popleft()
                    message = "not started: the batch was stopped"
                    rows[s.name]["message"] = message
                    yield RunFinished(
                        s.name, "pending", rows[s.name]["iterations"], configs[s.name].run.iters, message, rows[s.name]
                    )
            while queue and (max_concurrent is None or len(pending) < max_concurrent):
                s = queue.popleft()
                cfg = configs[s.name]
                if gpus == 0 and cfg.run.device == "auto":  # the run gets no GPU: it must not pick one up itself
                    cfg = cfg.replace(device="cpu")
                ref = task.remote(
                    s.to_dict(), cfg.to_dict(), str(batch.root), n, cpus, str(stop_file), monitor, namings[s.name]
                )
                pending[ref] = s
            if not pending:
                break
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=POLL_S)
            yield from _updates(ray.get(monitor.drain.remote()), attempts, spent)
            for ref in ready:
                s = pending.pop(ref)
                yield _result(batch, s, ref, configs[s.name].run.iters, rows, attempts, retries, spent)
        yield from _updates(ray.get(monitor.drain.remote()), attempts, spent)
    finally:
        ray.kill(monitor)
        stop_file.unlink(missing_ok=True)
    return stop_sent


def _result(batch, s, ref, total, rows, attempts, retries, spent) -> RunFinished:
    """The run's outcome, with its summary row read from its folder; its seconds: every attempt's (`spent`)."""
    import ray

    try:
        res = ray.get(ref)
    except ray.exceptions.RayTaskError as exc:  # a bug, not the user's input: the cause, in one line
        cause = exc.cause if exc.cause is not None else exc
        res = {"status": "failed", "message": f"{type(cause).__name__}: {str(cause)[:300]}"}
    except ray.exceptions.RayError as exc:
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        res = {
            "status": "failed",
            "message": f"the run's worker was lost after {retries + 1} attempt(s) "
            f"({type(exc).__name__}: {reason}); its last checkpoint is kept",
        }
    status = "pending" if res.get("started") is False else res["status"]
    seconds = res.get("seconds")
    if s.name in spent:
        start, last, earlier = spent.pop(s.name)
        # this attempt's own count when it returned one; else (its worker lost) the time it was seen working
        seconds = earlier + (seconds if seconds is not None else last - start)
    row = run_row(batch, s, status, total, res["message"], seconds, res.get("node"), attempts.get(s.name))
    row.update(train_seconds=res.get("train_seconds"), gallery_seconds=res.get("gallery_seconds"))
    rows[s.name] = row
    return RunFinished(s.name, status, row["iterations"], total, res["message"], row)


def _updates(items: list[tuple], attempts: dict[str, int], spent: dict[str, list[float]]) -> Iterator[BatchEvent]:
    now = time.perf_counter()
    for item in items:
        if item[0] == "started":
            _, name, node, step, total, resumed, attempt = item
            attempts[name] = attempt
            start, last, earlier = spent.get(name, (now, now, 0.0))
            spent[name] = [now, now, earlier + (last - start)]  # a retry: the lost attempt ran until its last report
            yield RunStarted(name, node, step, total, resumed, attempt)
        else:
            _, name, step, total, ips, eta = item
            if name in spent:
                spent[name][1] = now
            yield RunProgress(name, step, total, ips, eta)


def _check_address(address: str) -> None:
    """Refuse a HOST:PORT --address where nothing accepts a connection, in seconds: ray.init waits minutes for a
    cluster there, with no word. `auto` and ray:// addresses are left to Ray."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or "://" in address:
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=ADDRESS_TIMEOUT_S):
            pass
    except (OSError, ValueError, OverflowError) as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else (getattr(exc, "strerror", None) or str(exc))
        raise ConfigError(
            f"--address {address}: no Ray cluster answers there ({reason}); start its head (ray start --head) "
            f"or give the address it printed."
        ) from None


def _check_resources(cpus: float, gpus: float) -> None:
    """Refuse a run size that no node can hold (Ray would wait for it forever)."""
    import ray

    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if not any(r.get("CPU", 0) >= cpus and r.get("GPU", 0) >= gpus for r in nodes):
        most_cpu = max((r.get("CPU", 0) for r in nodes), default=0)
        most_gpu = max((r.get("GPU", 0) for r in nodes), default=0)
        raise ConfigError(
            f"no Ray node has {cpus:g} CPU(s) and {gpus:g} GPU(s) for one run (the largest node has "
            f"{most_cpu:g} CPUs and {most_gpu:g} GPUs); lower --cpus-per-run / --gpus-per-run."
        )


def _check_shared_storage(root: Path) -> None:
    """Every node must see BATCH at the same path (the driver reads the runs' galleries and writes the dataset
    and summary): a probe file written here is looked for, and a file written, on each node."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    token = secrets.token_hex(8)
    probe = root / f".osmis-batch-probe-{token}"
    probe.write_text(token, encoding="utf-8")
    try:
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        check = ray.remote(check_storage)
        refs = {
            n["NodeManagerAddress"] + " (" + n["NodeID"][:8] + ")": check.options(
                num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
            ).remote(str(root), token)
            for n in nodes
        }
        for where, ref in refs.items():
            problem = ray.get(ref)
            if problem:
                raise ConfigError(
                    f"{root}: not reachable from Ray node {where}: {problem}. With --address, BATCH "
                    f"must be on storage every node mounts at the same path (e.g. NFS)."
                )
    finally:
        os.unlink(probe)
