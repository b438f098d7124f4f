"""CPU thread plan (osmis_core/threads.py): environment set only by entry points, the user's setting wins, the
governor follows the load of other programs; `osmis --help` imports no torch."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from osmis_core import threads
from osmis_core.threads import CpuSample, ThreadGovernor, ThreadPlan, others_load, thread_env, threads_for

ROOT = Path(__file__).resolve().parents[1]


def test_thread_env_never_overrides_the_user():
    assert thread_env(None, {}) == {}
    assert thread_env(1, {}) == {"OMP_NUM_THREADS": "1"}
    assert thread_env(2, {}) == {"OMP_NUM_THREADS": "2", "GOMP_SPINCOUNT": threads.BOUNDED_SPIN_COUNT}
    assert thread_env(2, {"OMP_WAIT_POLICY": "ACTIVE"}) == {"OMP_NUM_THREADS": "2"}
    assert thread_env(2, {"GOMP_SPINCOUNT": "5"}) == {"OMP_NUM_THREADS": "2"}
    assert thread_env(3, {"OMP_NUM_THREADS": "4"}) == {}
    with pytest.raises(ValueError):
        thread_env(0, {})


def test_threads_for_counts_free_cores():
    assert threads_for(2, 0.0) == 2
    assert threads_for(2, 0.3) == 2  # a mostly idle desktop
    assert threads_for(2, 0.67) == 1  # one busy-loop process sharing 2 cores with our 2 threads
    assert threads_for(2, 1.0) == 1
    assert threads_for(2, 5.0) == 1  # never below one
    assert threads_for(8, 2.0) == 6
    assert threads_for(4, -1.0) == 4  # never above the cores


def test_others_load_subtracts_own_time():
    a, b = CpuSample(10.0, 100.0, 5.0), CpuSample(12.0, 103.0, 6.0)
    assert others_load(a, b) == pytest.approx(1.0)  # 3 busy seconds in 2 s, 1 of them ours
    assert others_load(a, a) == 0.0


def _scripted(loads: list[float]):
    """CpuSamples 1 s apart in which other programs keep `loads[i]` cores busy and this process none."""
    state = {"wall": 0.0, "busy": 0.0, "i": 0}

    def sample():
        if state["i"] > 0:
            state["busy"] += loads[min(state["i"] - 1, len(loads) - 1)]
        state["wall"] += 1.0
        state["i"] += 1
        return CpuSample(state["wall"], state["busy"], 0.0)

    return sample


def test_governor_steps_down_at_once_and_up_after_two_looks():
    before = torch.get_num_threads()
    try:
        sampler = _scripted([0.0, 1.0, 0.0, 0.0, 0.0])
        plan = ThreadPlan(None, "adaptive", 2, {}, sampler())
        gov = ThreadGovernor(plan, interval_s=0.0, sampler=sampler)
        assert gov.check() == 2 and torch.get_num_threads() == 2  # quiet
        assert gov.check() == 1 and torch.get_num_threads() == 1  # a busy core: down at once
        assert gov.check() == 1  # one quiet look is not enough
        assert gov.check() == 2 and torch.get_num_threads() == 2  # two agree: back up
        assert [c[1] for c in gov.changes] == [2, 1, 2]
    finally:
        torch.set_num_threads(before)


def test_fixed_plan_sets_its_count_in_the_calling_thread():
    before = torch.get_num_threads()
    try:
        gov = ThreadPlan(1, "threads", 2).governor()
        assert gov.check() == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="the load is read from /proc/stat (Linux)")
def test_a_real_busy_process_is_seen():
    """A real busy-loop process (one core) shows as at least ~0.7 cores used by others over one second."""
    start = threads.sample_cpu()
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.5)
        load = others_load(start, threads.sample_cpu())
    finally:
        hog.kill()
        hog.wait()
    assert load >= 0.7


def test_entry_point_sets_env_before_torch_and_user_wins():
    """configure_threads in a fresh interpreter: --threads 2 sets the variables (torch then uses 2 threads); a
    user's OMP_NUM_THREADS wins over --threads; library import sets nothing."""
    code = (
        "import os, sys; from osmis_core.threads import configure_threads; import osmis_core.cli; "
        "assert 'OMP_NUM_THREADS' not in os.environ or os.environ.get('KEEP'); "
        "p = configure_threads(int(sys.argv[1])); import torch; "
        "print(p.source, p.threads, torch.get_num_threads(), os.environ.get('GOMP_SPINCOUNT'))"
    )
    env = {
        k: v
        for k, v in __import__("os").environ.items()
        if k not in ("OMP_NUM_THREADS", "GOMP_SPINCOUNT", "OMP_WAIT_POLICY")
    }
    # the two interpreters run side by side: each spends seconds importing torch, mostly on one core
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, "2"],
            cwd=ROOT,
            env=e,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for e in (env, {**env, "OMP_NUM_THREADS": "1", "KEEP": "1"})
    ]
    (out, err), (user_out, user_err) = (proc.communicate(timeout=300) for proc in procs)
    assert procs[0].returncode == 0, err
    assert out.split() == ["threads", "2", "2", threads.BOUNDED_SPIN_COUNT]
    assert procs[1].returncode == 0, user_err
    assert user_out.split() == ["OMP_NUM_THREADS", "1", "1", "None"]


@pytest.mark.parametrize(
    "argv", [["--help"], ["run", "--help"], ["evaluate", "--help"], ["train", "--help"], ["gui", "--help"]]
)
def test_help_does_not_import_torch(argv):
    code = (
        "import sys; from osmis_core.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')"
    )
    out = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "--threads" in out.stdout or argv == ["--help"]
    assert out.stdout.strip().endswith("NO-TORCH")


def test_whole_parser_and_metrics_registry_import_no_torch():
    """Building every subcommand's parser and help (the --metrics flag reads the registry, its default and the
    renderer measures) and reading the registry's entries import no torch; a metric built from it does."""
    code = (
        "import sys, argparse; from osmis_core.cli import build_parser\n"
        "parser = build_parser()\n"
        "subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices\n"
        "helps = {name: sub.format_help() for name, sub in subs.items()}\n"
        "from osmis_core.metrics import REGISTRY, RENDERER_METRICS, metric_names\n"
        "print(len(subs), 'lpips_train' in helps['evaluate'], 'two_stage_alignment' in helps['run'],\n"
        "      [e.weights[0].filename for e in REGISTRY.values() if e.weights][0],\n"
        "      'TORCH' if 'torch' in sys.modules else 'NO-TORCH')\n"
        "from osmis_core.metrics import SIFID\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    count, evaluate_lists, run_lists, weights_file, torch_state = first.split()
    assert int(count) >= 10 and evaluate_lists == run_lists == "True"
    assert weights_file == "inception_v3_google-0cc3c7bd.pth" and torch_state == "NO-TORCH"
    assert second == "TORCH"


@pytest.mark.skipif(
    subprocess.run(["python3", "-c", "import torch"], capture_output=True).returncode == 0,
    reason="needs a system python3 without torch",
)
def test_main_py_with_the_wrong_python_says_which_to_use():
    out = subprocess.run(["python3", "main.py"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and ".venv/bin/python main.py" in out.stderr


def test_configure_again_replaces_only_its_own_variables(monkeypatch):
    """A reused batch worker given another allotment: our variables change, the user's stay."""
    monkeypatch.setattr(threads, "_configured", None)
    env = {"OMP_WAIT_POLICY": "PASSIVE"}
    assert threads.configure_threads(1, env).threads == 1 and env == {
        "OMP_WAIT_POLICY": "PASSIVE",
        "OMP_NUM_THREADS": "1",
    }
    plan = threads.configure_threads(2, env)
    assert (plan.threads, plan.source) == (2, "threads") and env["OMP_NUM_THREADS"] == "2"
    assert "GOMP_SPINCOUNT" not in env  # the user chose the wait policy
    assert threads.configure_threads(None, env) is plan  # nothing asked: the entry point's plan stays
    monkeypatch.setattr(threads, "_configured", None)
    user = {"OMP_NUM_THREADS": "3"}
    plan = threads.configure_threads(None, user)
    assert (plan.threads, plan.source, user) == (3, "OMP_NUM_THREADS", {"OMP_NUM_THREADS": "3"})
    assert threads.configure_threads(1, user).threads == 3  # the user's count wins over an allotment


def test_a_quota_on_a_big_host_ignores_other_tenants():
    assert threads_for(2, 30.0, cpus=64) == 2  # --cpus=2 on a 64-CPU host with 30 busy elsewhere
    assert threads_for(4, 2.0, cpus=8) == 4  # hyperthreads: 6 logical CPUs free for 4 cores
    assert threads_for(2, 1.0, cpus=2) == 1


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="Linux")
def test_per_cpu_sample_matches_the_total():
    every = threads.allowed_cpus()
    a_all, a_set = threads.sample_cpu(), threads.sample_cpu(every)
    assert a_all is not None and a_set is not None
    if every == frozenset(range(os.cpu_count())):
        assert a_set.machine_busy == pytest.approx(a_all.machine_busy, abs=0.5)  # sampled microseconds apart
