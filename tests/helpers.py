"""Helpers shared by the tests: tiny configurations and synthetic data."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from osmis_core.training.health import DiversityCollapse

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# A model small enough to train a few iterations in about a second on 2 CPU cores.
TINY = dict(
    max_size=96,
    ch_g=4,
    ch_d=4,
    noise_dim=8,
    batch_size=2,
    log_every=1,
    preview_every=2,
    checkpoint_every=2,
    bernoulli_warmup=2,
    device="cpu",
)


def tiny_flags(**extra) -> list[str]:
    opts = {**TINY, **extra}
    flags = []
    for k, v in opts.items():
        flags.append("--" + k.replace("_", "-"))
        flags.append(str(v))
    return flags


def run_job(scene, run, *extra) -> list[str]:
    """`osmis run` argv with a tiny model, 4 iterations, a 2-sample gallery and the cheapest metric (diversity,
    random-weight feature networks)."""
    flags = ["--n", "2", "--quiet", "--random-weights", "--metrics", "diversity", *tiny_flags(iters=4)]
    return ["run", str(scene), "--out", str(run), *flags, *extra]


def scene_arrays(w: int = 128, h: int = 64, seed: int = 0):
    """A small RGB image with two kinds of objects, and its class-id mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = (rng.random((h, w, 1)) * 40 + np.array([60, 120, 60])).astype(np.uint8)
    ids = np.zeros((h, w), np.uint8)
    disc = (xx - w * 0.3) ** 2 + (yy - h * 0.5) ** 2 <= (h * 0.2) ** 2
    box = (abs(xx - w * 0.7) < w * 0.1) & (abs(yy - h * 0.55) < h * 0.2)
    img[disc] = [200, 40, 40]
    img[box] = [40, 40, 200]
    ids[disc], ids[box] = 1, 2
    return img, ids


def save_palette_mask(ids: np.ndarray, path: Path) -> Path:
    im = Image.fromarray(ids.astype(np.uint8), "P")
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * 759)
    im.save(path)
    return path


def osmis_cli(capsys, *args) -> subprocess.CompletedProcess:
    """`osmis ARGS` run in this process (osmis_core.cli.main), reported as a finished child process would be: exit
    code, stdout, stderr. For tests of what the CLI says, returns and writes: a fresh Python importing torch costs
    seconds per command. Tests about the process itself (signals, environment, start-up) use start_osmis."""
    from osmis_core.cli import main

    capsys.readouterr()
    argv = [str(a) for a in args]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own exits (a bad option, --help), as the console script ends them
        code = 0 if exc.code is None else exc.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["osmis", *argv], code, out, err)


class TerminalStderr(io.StringIO):
    """A stderr that says it is a terminal: for tests of the CLI's progress bars, drawn only there (into a log or a
    pipe, such as pytest's captured stderr, the CLI writes lines instead)."""

    def isatty(self) -> bool:
        return True


def start_osmis(*args, cwd: Path, **popen) -> subprocess.Popen:
    """`python -m osmis_core ARGS` as a child process (one torch thread, pipes for its output), for tests that
    signal it while it works; `popen`: more subprocess.Popen arguments (preexec_fn, say)."""
    return subprocess.Popen(
        [sys.executable, "-m", "osmis_core", *map(str, args)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
        **popen,
    )


def wait_for(condition, proc: subprocess.Popen, what: str, timeout: float) -> None:
    """Poll `condition` until true; fails (killing proc) if proc ends first or `timeout` seconds pass."""
    end = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the command ended before {what}: {proc.communicate()}")
        if time.monotonic() > end:
            proc.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def write_scene(root: Path) -> Path:
    """root/scene: a research-layout folder with the synthetic scene image and its 3-class palette mask."""
    img, ids = scene_arrays()
    (root / "scene" / "image").mkdir(parents=True)
    (root / "scene" / "mask").mkdir()
    Image.fromarray(img).save(root / "scene" / "image" / "00000.png")
    save_palette_mask(ids, root / "scene" / "mask" / "00000.png")
    return root / "scene"


class CollapseOnceAt(DiversityCollapse):
    """A diversity collapse reported at one evaluation step only (the first time it is reached), healthy otherwise."""

    def __init__(self, step: int):
        super().__init__(patience=1, after_healthy=False)
        self.at, self.done = step, False

    def update(self, step, diversity):
        if step == self.at and not self.done:
            self.done = True
            return super().update(step, -1.0)
        return super().update(step, 1.0)


def folder_bytes(folder: Path) -> dict:
    """Every file under `folder` (relative path -> bytes): compared before and after a command that must write
    nothing."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def two_iteration_run(data, run: Path) -> Path:
    """A finished OSMIS run of 2 tiny iterations (no evaluation, no best) in `run`; returns it."""
    from osmis_core.application.session import start_training
    from osmis_core.config import OsmisConfig

    config = OsmisConfig().replace(**{**TINY, "iters": 2, "eval_every": 0, "keep_best": "none"})
    for _ in start_training(config, data, run).run():
        pass
    return run


def store_run_options(run: Path, checkpoints: bool = True, **options) -> None:
    """Write run options into run.json (and the checkpoints' stored configs), as an earlier version with fewer rules
    or no limits did."""
    import json

    import torch

    info = json.loads((run / "run.json").read_text())
    info["config"]["run"].update(options)
    (run / "run.json").write_text(json.dumps(info))
    if checkpoints:
        for path in (run / "checkpoints").glob("step_*.pt"):
            state = torch.load(path, weights_only=False)
            state["config"]["run"].update(options)
            torch.save(state, path)


_HOLD_TRAINING_LOCK = (
    "import sys, time\n"
    "from osmis_core.application.runfolder import RunFolder\n"
    "with RunFolder(sys.argv[1]).training():\n"
    "    print('held', flush=True)\n"
    "    time.sleep(120)\n"
)


@contextlib.contextmanager
def training_elsewhere(run: Path):
    """Another process holding `run`'s training lock, as a terminal's training would, for the `with` block; yields
    that process (its pid is what the refusals name). It is killed at the end."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD_TRAINING_LOCK, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def init_ray(**kwargs) -> None:
    """ray.init, keeping this process's SIGTERM handler: ray.init replaces it (as run_batch's _restore_sigterm
    says), and with Ray's handler left in place a test run sent SIGTERM (a time limit, `kill`) went on running."""
    import signal

    import ray

    previous = signal.getsignal(signal.SIGTERM)
    ray.init(**kwargs)
    signal.signal(signal.SIGTERM, previous)


def video_read_warnings(path, max_frames: int = 40) -> tuple[int, str | None, list[str]]:
    """Reading the video at `path` (data.sources._read_video): (frames decoded, why decoding stopped early or None,
    the warnings it raised)."""
    import warnings

    from osmis_core.data.sources import _read_video

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, count, stopped, _ = _read_video(path, max_frames)
    return count, stopped, [str(w.message) for w in caught]


def new_render_galleries(run, argvs, capsys) -> list[str]:
    """The gallery folders that `osmis render` commands (argv after `render RUN`) add to RUN/galleries."""
    from osmis_core.cli import main

    galleries = run / "galleries"
    before = set(galleries.iterdir()) if galleries.is_dir() else set()
    for argv in argvs:
        assert main(["render", str(run), "--n", "1", *argv]) == 0
    capsys.readouterr()
    return sorted(p.name for p in set(galleries.iterdir()) - before)
