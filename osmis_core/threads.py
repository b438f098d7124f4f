"""CPU threads for training: how many intra-op threads torch uses, and how its OpenMP threads wait.

Why: torch's CPU kernels run on an OpenMP team (libgomp in the Linux wheels) with one thread per physical core,
and a thread that reaches a barrier first spins for a while before it sleeps. When another program keeps a core
busy, one team thread is descheduled and its partner spins out its time slice at every barrier; on a 2-core
machine with one busy core, training was 25-60x slower than on a quiet one (issue 18). The remedy is to use no
more threads than there are free cores, and to re-check that while training, since other programs come and go.

Entry points only. `configure_threads` changes environment variables that the OpenMP runtime reads once, when it
loads (that is, when torch is imported), and `ThreadGovernor.check` changes torch's intra-op thread count: both
are process-wide, so they are called by the `osmis` CLI (`osmis_core.cli.main`, also behind `python main.py`), the
desktop app's `run_app` and batch workers, never on import of a library module. A user's own OMP_NUM_THREADS,
OMP_WAIT_POLICY or GOMP_SPINCOUNT always wins.

Use, in a process that has not imported torch yet:

    plan = configure_threads(threads)          # None: adaptive; N: a fixed count (--threads N, a batch allotment)
    import torch ...
    governor = plan.governor()                  # in the thread that runs the training steps
    for event in trainer.run(control):
        if isinstance(event, IterationDone):
            governor.check()                    # cheap; looks at the machine every `interval_s` seconds

Linux measures the load from /proc/stat; elsewhere the adaptive plan keeps torch's default count.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

# libgomp's barrier spin before a waiting thread sleeps, used when a fixed count above one cannot step back under
# load: ~10k pause instructions is well under a millisecond, against ~300k by default (longer than a time slice).
BOUNDED_SPIN_COUNT = "10000"
# The variables a user may set to choose the thread count or the waiting behaviour; theirs win over ours.
COUNT_ENV = "OMP_NUM_THREADS"
WAIT_ENV = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
# Cores used by other programs above which one fewer thread is used (rounding of free cores: 1.6 free -> 2).
ROUNDING = 0.4


def allowed_cpus() -> frozenset[int]:
    """The logical CPUs this process may run on (its affinity mask)."""
    if hasattr(os, "sched_getaffinity"):
        return frozenset(os.sched_getaffinity(0))
    return frozenset(range(os.cpu_count() or 1))


def most_threads() -> int:
    """The largest thread count a user may fix (--threads N): the logical CPUs this process may run on. More threads
    than CPUs only take turns on them, and a team thread that waits for its turn holds up the others at every
    barrier (the slowdown this module is about), so such a count is refused, not silently lowered."""
    return len(allowed_cpus())


def physical_cores() -> int:
    """Physical cores this process may run on (hyperthread siblings counted once), limited by the CPU affinity
    mask and a cgroup CPU quota (containers); at least 1."""
    cores = set()
    for cpu in sorted(allowed_cpus()):
        topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add(
                (topo.joinpath("physical_package_id").read_text().strip(), topo.joinpath("core_id").read_text().strip())
            )
        except OSError:
            cores.add(("cpu", str(cpu)))  # no topology (not Linux, or hidden): each logical CPU is a core
    n = len(cores) or 1
    quota = _cgroup_quota()
    return max(1, min(n, math.ceil(quota))) if quota else n


def _cgroup_quota() -> float | None:
    """CPUs granted by a cgroup v2 `cpu.max` or v1 `cpu.cfs_quota_us` limit; None when unlimited or unknown."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 else None
    except (OSError, ValueError):
        return None


@dataclass
class CpuSample:
    """Busy CPU time of the whole machine and of this process, in seconds, at one wall-clock instant."""

    wall: float
    machine_busy: float
    own: float


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def sample_cpu(cpus: frozenset[int] | None = None) -> CpuSample | None:
    """Busy time of the logical CPUs `cpus` (all when None) from /proc/stat (user, nice, system, irq, softirq,
    steal: all but idle and iowait) and this process's own CPU time (all its threads); None where /proc is absent
    (not Linux)."""
    busy = 0
    try:
        with open("/proc/stat") as f:
            for line in f:
                name, *values = line.split()
                if not name.startswith("cpu"):
                    break
                if (name == "cpu") != (cpus is None) or (cpus is not None and int(name[3:]) not in cpus):
                    continue
                # user nice system idle iowait irq softirq steal guest guest_nice (guest is within user/nice)
                fields = [int(x) for x in values]
                busy += sum(fields[:8]) - fields[3] - (fields[4] if len(fields) > 4 else 0)
    except (OSError, ValueError):
        return None
    t = os.times()
    return CpuSample(time.monotonic(), busy / _TICK, t.user + t.system)


def others_load(before: CpuSample, after: CpuSample) -> float:
    """Cores kept busy by other programs between two samples (the machine's busy time minus this process's, per
    second of wall time); 0.0 when the interval is empty."""
    wall = after.wall - before.wall
    if wall <= 0:
        return 0.0
    return max(0.0, ((after.machine_busy - before.machine_busy) - (after.own - before.own)) / wall)


def threads_for(cores: int, others: float, cpus: int | None = None) -> int:
    """Intra-op threads for `cores` physical cores when other programs keep `others` of the `cpus` logical CPUs
    this process may use busy (cpus defaults to cores): the free CPUs, rounded so that one more than 40 % busy
    counts as taken; at least 1, at most `cores`. (With a container's CPU quota the CPUs are many and the cores
    few: the load of other tenants on the rest of the host then leaves the count at the quota.)"""
    free = (cpus if cpus else cores) - others
    return max(1, min(cores, math.floor(free + ROUNDING)))


@dataclass(frozen=True)
class ThreadPlan:
    """What `configure_threads` decided. `threads` is the fixed intra-op count, or None when it adapts to the load;
    `source` says who chose it: 'OMP_NUM_THREADS' (the user's environment), 'threads' (--threads N or a batch
    allotment) or 'adaptive'; `env` holds the variables this process set (not the user's)."""

    threads: int | None
    source: str
    cores: int
    env: dict[str, str] = field(default_factory=dict)
    start: CpuSample | None = None
    cpus: frozenset[int] | None = None  # the logical CPUs whose load is watched (None: the whole machine)

    def governor(self, interval_s: float = 2.0) -> ThreadGovernor:
        """A governor for the calling thread (the one that runs training steps; torch's count is per thread)."""
        return ThreadGovernor(self, interval_s)

    def describe(self) -> str:
        if self.threads is not None:
            return f"{self.threads} CPU thread(s) ({self.source})"
        return f"CPU threads adapt to the load (up to {self.cores})"


class ThreadGovernor:
    """Keeps torch's intra-op thread count at the free cores of the machine while training.

    `check()` is cheap and meant to be called after every iteration from the thread that runs them: at most every
    `interval_s` seconds it measures the cores other programs used since the previous look and sets
    torch.set_num_threads accordingly. It steps down at once (an oversubscribed OpenMP team loses whole time
    slices at each barrier) and back up only after two looks agree (a brief lull should not bring the threads
    back into contention). With a fixed plan it only makes sure the calling thread uses that count.
    """

    def __init__(
        self, plan: ThreadPlan, interval_s: float = 2.0, sampler: Callable[[], CpuSample | None] | None = None
    ):
        self.plan = plan
        self.interval_s = interval_s
        # where the load is read from: /proc/stat for the plan's CPUs (tests script it)
        self.sampler = sampler or (lambda: sample_cpu(plan.cpus))
        self._last = plan.start
        self._pending_up: int | None = None
        self.current: int | None = None
        self.changes: list[tuple[float, int, float]] = []  # (monotonic time, new count, others' load)

    def check(self) -> int | None:
        """Look at the machine if `interval_s` has passed; returns the intra-op thread count in force (None when
        the plan adapts but the load cannot be measured here, leaving torch's default)."""
        import torch

        if self.plan.threads is not None:
            if self.current is None:
                self.current = self.plan.threads
                if torch.get_num_threads() != self.current:
                    torch.set_num_threads(self.current)
            return self.current
        now = time.monotonic()
        if self._last is not None and self.current is not None and now - self._last.wall < self.interval_s:
            return self.current
        sample = self.sampler()
        if sample is None:
            return None
        if self._last is None or sample.wall - self._last.wall < 0.05:
            self._last = sample  # no interval to measure over yet
            return self.current
        others = others_load(self._last, sample)
        self._last = sample
        target = threads_for(self.plan.cores, others, len(self.plan.cpus) if self.plan.cpus else None)
        current = self.current if self.current is not None else torch.get_num_threads()
        if target > current and self.current is not None and self._pending_up != target:
            self._pending_up = target  # first look that says "more": wait for the next one
            return self.current
        self._pending_up = None
        if target != current or self.current is None:
            if target != torch.get_num_threads():
                torch.set_num_threads(target)
            if target != self.current:
                self.changes.append((now, target, round(others, 2)))
            self.current = target
        return self.current


def thread_env(threads: int | None, environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Environment variables to set before the OpenMP runtime loads, never one the user has set.

    threads: a fixed intra-op count (>= 1) or None (adaptive: nothing to set, the governor sets the count at run
    time and threads keep libgomp's default spinning, the fastest while they do not outnumber the free cores).
    A fixed count above 1 cannot step back when other programs start, so it gets OMP_NUM_THREADS and a bounded
    barrier spin (GOMP_SPINCOUNT); a fixed 1 gets OMP_NUM_THREADS=1 only (a single thread never waits at a barrier).
    Pass the result to a child process (e.g. a Ray task's runtime_env) or apply it with `configure_threads`.
    """
    environ = os.environ if environ is None else environ
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    env: dict[str, str] = {}
    if threads is None or COUNT_ENV in environ:
        return env
    env[COUNT_ENV] = str(threads)
    if threads > 1 and not any(k in environ for k in WAIT_ENV):
        env["GOMP_SPINCOUNT"] = BOUNDED_SPIN_COUNT
    return env


_configured: ThreadPlan | None = None


def _leading_int(text: str) -> int | None:
    """The intra-op count in an OMP_NUM_THREADS value ("4", or "4,2" for nested levels); None if it holds none
    (the OpenMP runtime ignores such a value too)."""
    head = text.split(",")[0].strip()
    return int(head) if head.isdigit() else None


def configure_threads(threads: int | None = None, environ: MutableMapping[str, str] | None = None) -> ThreadPlan:
    """Entry points only, before torch is imported: decide the thread plan and set its environment variables.

    threads: None (adaptive to the load), or a fixed count >= 1 (`--threads N`; a batch worker's CPU allotment).
    A user's OMP_NUM_THREADS wins over both. Returns the plan; a second call in the same process returns the first
    plan unless `threads` asks for another fixed count (a reused batch worker): then the variables set by the first
    call are replaced (once torch is loaded only the governor's set_num_threads still acts). Raises ValueError for
    threads < 1.
    """
    global _configured
    environ = os.environ if environ is None else environ
    if _configured is not None and (threads is None or threads == _configured.threads):
        return _configured
    for key, value in (_configured.env if _configured is not None else {}).items():
        if environ.get(key) == value:  # ours, not the user's
            del environ[key]
    env = thread_env(threads, environ)
    environ.update(env)
    cores = physical_cores()
    user = _leading_int(environ.get(COUNT_ENV, "")) if COUNT_ENV not in env else None
    if user is not None:
        fixed, source = max(1, user), COUNT_ENV
    elif threads is not None:
        fixed, source = threads, "threads"
    else:
        fixed, source = None, "adaptive"
    cpus = allowed_cpus()
    _configured = ThreadPlan(fixed, source, cores, env, sample_cpu(cpus), cpus)
    return _configured


def configured_plan() -> ThreadPlan | None:
    """The plan of this process's entry point, or None when no entry point configured one (library use: torch's
    defaults are left alone)."""
    return _configured
