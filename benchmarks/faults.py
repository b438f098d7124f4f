"""The fault suite: real faults injected into real runs, files and flags; every outcome measured.

Each check returns a row (fault, how it is injected, the measured figure, passed). The fast settings run in the
default test suite (tests/test_faults.py); the full settings print the table of docs/reliability.md:

    python benchmarks/faults.py                      # full: 30 kill-resume cycles, 300 examples per reader
    python benchmarks/faults.py --quick              # the settings of the test suite
    python benchmarks/faults.py --cycles 10 --examples 100 --json faults.json

Kinds: kill-and-resume cycles (SIGKILL at random moments and at write moments), a full disk (a small tmpfs, where
this machine allows mounting one), hostile checkpoints, configs and manifests, bad numbers on every numeric flag,
NaN injection into a training run, decompression bombs, and property-based tests (hypothesis) of the image, mask,
video, config and manifest readers: every input must end in success or in one OsmisError, never another
exception or a hang.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pickle
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from osmis_core.application.runfolder import RunFolder, check_checkpoint  # noqa: E402 (after the sys.path line: this checkout's osmis_core)
from osmis_core.cli import main  # noqa: E402 (after the sys.path line: this checkout's osmis_core)
from osmis_core.errors import OsmisError  # noqa: E402 (after the sys.path line: this checkout's osmis_core)

TINY = [
    "--max-size",
    "96",
    "--ch-g",
    "4",
    "--ch-d",
    "4",
    "--noise-dim",
    "8",
    "--batch-size",
    "2",
    "--bernoulli-warmup",
    "2",
    "--device",
    "cpu",
]
HANG_S = 20  # one reader call taking longer than this is a hang


@dataclass
class Row:
    fault: str
    injected: str
    figure: str
    passed: bool


# -- data ----------------------------------------------------------------------------------------------------------
def scene(folder: Path, w: int = 128, h: int = 64) -> Path:
    """A research-layout folder: one image with two objects and its 3-class palette mask."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w]
    img = (rng.random((h, w, 1)) * 40 + np.array([60, 120, 60])).astype(np.uint8)
    ids = np.zeros((h, w), np.uint8)
    disc = (xx - w * 0.3) ** 2 + (yy - h * 0.5) ** 2 <= (h * 0.2) ** 2
    box = (abs(xx - w * 0.7) < w * 0.1) & (abs(yy - h * 0.55) < h * 0.2)
    img[disc], img[box] = [200, 40, 40], [40, 40, 200]
    ids[disc], ids[box] = 1, 2
    (folder / "image").mkdir(parents=True, exist_ok=True)
    (folder / "mask").mkdir(exist_ok=True)
    Image.fromarray(img).save(folder / "image" / "00000.png")
    m = Image.fromarray(ids, "P")
    m.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * 759)
    m.save(folder / "mask" / "00000.png")
    return folder


def png_declaring(path: Path, width: int, height: int, bit_depth: int = 8, colour_type: int = 2) -> Path:
    """A PNG of a few hundred bytes whose header declares width x height pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
    return path


def gif_declaring(path: Path, width: int, height: int) -> Path:
    """A GIF whose logical screen declares width x height pixels, holding one 1x1 frame."""
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    path.write_bytes(header + frame + b"\x3b")
    return path


def run_cli(argv: list[str]) -> tuple[int, str]:
    """(exit code, stderr) of the osmis command run in this process."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: a malformed flag value
            code = exc.code if isinstance(exc.code, int) else 2
    return code, err.getvalue()


def one_clear_error(code: int, err: str) -> bool:
    return code == 2 and "Traceback" not in err and len([s for s in err.splitlines() if s.startswith("error")]) == 1


def train_tiny(data: Path, run: Path, iters: int = 4) -> Path:
    code, err = run_cli(
        [
            "train",
            str(data),
            "--out",
            str(run),
            "--iters",
            str(iters),
            "--quiet",
            "--log-every",
            "1",
            "--checkpoint-every",
            "2",
            "--preview-every",
            "2",
            *TINY,
        ]
    )
    assert code == 0, err
    return run


# -- kill and resume -----------------------------------------------------------------------------------------------
def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def _temporaries(folder: RunFolder) -> list[Path]:
    return [p for d in (folder.root, folder.checkpoints, folder.samples) if d.is_dir() for p in d.glob(".*.tmp")]


def _logged_step(folder: RunFolder) -> int:
    rows = folder.read_stats()
    return max((r.get("step", 0) for r in rows), default=0)


def _kill_when(proc: subprocess.Popen, folder: RunFolder, mode: str, rng: random.Random, timeout: float) -> str:
    """SIGKILL the trainer: at a random moment of its start-up (imports, data, model) or of its training (after it
    logged a new step), or the moment a temporary file (a write in progress) or a new checkpoint file (before its
    `latest` pointer moves) appears. Returns what was seen at the kill."""
    start = time.time()
    seen_steps = set(folder.checkpoint_steps())
    logged_before = _logged_step(folder)
    delay = rng.uniform(0.5, 10.0) if mode == "startup" else rng.uniform(0.0, 3.0)
    training_since = None
    while proc.poll() is None and time.time() - start < timeout:
        if mode == "startup" and time.time() - start >= delay:
            break
        if mode == "random":
            if training_since is None and _logged_step(folder) != logged_before:
                training_since = time.time()
            if training_since is not None and time.time() - training_since >= delay:
                break
        if mode == "write" and _temporaries(folder):
            proc.kill()
            return "during a write"
        if mode == "latest" and set(folder.checkpoint_steps()) - seen_steps:
            proc.kill()
            return "after a checkpoint rename"
        time.sleep(0.001 if mode in ("write", "latest") else 0.05)
    if proc.poll() is None:
        proc.kill()
        return f"{mode}: at a random moment"
    return "finished before the kill"


def _resumes_logged(folder: RunFolder) -> int:
    return folder.log_file.read_text().count("resumed at step") if folder.log_file.is_file() else 0


def kill_resume(
    workdir: Path,
    cycles: int,
    iters: int = 40,
    seed: int = 0,
    compare: bool = True,
    modes: tuple[str, ...] = ("startup", "random", "write", "latest"),
) -> list[Row]:
    """Train a tiny model to `iters`, SIGKILLed `cycles` times (random moments, mid-write, between a checkpoint's
    rename and its `latest` update), resuming after each; then finish and compare with an unkilled run."""
    rng = random.Random(seed)
    data = scene(workdir / "scene")
    run = workdir / "killed"
    folder = RunFolder(run)
    flags = [
        "--iters",
        str(iters),
        "--quiet",
        "--log-every",
        "1",
        "--checkpoint-every",
        "3",
        "--preview-every",
        "2",
        "--keep-checkpoints",
        "2",
        *TINY,
    ]
    unreadable = failed = stray_after = behind = 0
    seen_counts: dict[str, int] = {}
    lost = []
    for cycle in range(cycles):
        resume = folder.checkpoint_steps() != []
        argv = [str(run), "--resume", "--quiet"] if resume else [str(data), "--out", str(run), *flags]
        before, resumes = set(_temporaries(folder)), _resumes_logged(folder)
        proc = subprocess.Popen(
            [sys.executable, "-m", "osmis_core", "train", *argv],
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        seen = _kill_when(proc, folder, modes[cycle % len(modes)], rng, timeout=120)
        _, err = proc.communicate(timeout=60)
        seen_counts[seen] = seen_counts.get(seen, 0) + 1
        if proc.returncode not in (0, -signal.SIGKILL):
            failed += 1
            print(f"  cycle {cycle}: the run failed by itself: {err.decode(errors='replace')[-300:]}", file=sys.stderr)
        if before and _resumes_logged(folder) > resumes and set(_temporaries(folder)) & before:
            stray_after += 1  # temporaries of an earlier kill still there after a resume got going
        logged = _logged_step(folder)
        steps = folder.checkpoint_steps()
        pointer = folder.checkpoints / "latest"
        if steps and pointer.is_file() and pointer.read_text().strip() != folder.checkpoint_path(steps[-1]).name:
            behind += 1  # killed between a checkpoint's rename and the pointer update: resume must take the newer
        good = []
        for s in steps:
            try:
                check_checkpoint(torch.load(folder.checkpoint_path(s), weights_only=True))
                good.append(s)
            except Exception:  # noqa: BLE001 - counted
                unreadable += 1
        lost.append(logged - (good[-1] if good else 0))
        if proc.returncode == 0:
            break
    code = subprocess.run(
        [sys.executable, "-m", "osmis_core", "train", str(run), "--resume", "--quiet"]
        if folder.checkpoint_steps()
        else [sys.executable, "-m", "osmis_core", "train", str(data), "--out", str(run), *flags],
        env=_env(),
        capture_output=True,
    ).returncode
    failed += code != 0
    stray_final = len(_temporaries(folder))
    identical = False
    if compare:
        reference = workdir / "reference"
        ref_code = subprocess.run(
            [sys.executable, "-m", "osmis_core", "train", str(data), "--out", str(reference), *flags],
            env=_env(),
            capture_output=True,
        ).returncode
        if code == 0 and ref_code == 0:
            a = RunFolder(run).load_checkpoint("latest")["generator_ema"]
            b = RunFolder(reference).load_checkpoint("latest")["generator_ema"]
            identical = all(torch.equal(a[k], b[k]) for k in a)
    kills = len(lost)
    rows = [
        Row(
            "SIGKILL during training",
            f"{kills} SIGKILLs of a {iters}-iteration tiny run, each followed by a "
            f"resume ({', '.join(f'{n} {k}' for k, n in sorted(seen_counts.items()))}; {behind} left `latest` "
            f"behind a newer checkpoint)",
            f"{unreadable} unreadable checkpoints, {failed} failed resumes, at most {max(lost, default=0)} "
            f"iterations lost (checkpoint interval 3)",
            unreadable == 0 and failed == 0 and max(lost, default=0) <= 3,
        ),
        Row(
            "stray temporary files",
            "the same kills",
            f"{stray_after} left after a resume started, {stray_final} at the end",
            stray_after == 0 and stray_final == 0,
        ),
    ]
    if compare:
        rows.append(
            Row(
                "killed run vs unkilled run",
                "final EMA generator of the killed-and-resumed run vs one run",
                "bit-identical" if identical else "DIFFERENT",
                identical,
            )
        )
    return rows


# -- full disk -----------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def small_filesystem(where: Path, size: str):
    where.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        yield None
        return
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if result.returncode:
        yield None
        return
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], capture_output=True)


def full_disk(workdir: Path) -> list[Row]:
    data = scene(workdir / "scene")
    trained = train_tiny(data, workdir / "trained", 2)
    rows = []
    with small_filesystem(workdir / "small", "600k") as mount:
        if mount is None:
            return [Row("full disk", "a 600 KiB tmpfs", "SKIPPED: cannot mount a tmpfs here (needs root)", True)]
        code, err = run_cli(
            [
                "train",
                str(data),
                "--out",
                str(mount / "run"),
                "--iters",
                "200",
                "--quiet",
                "--checkpoint-every",
                "1",
                "--preview-every",
                "1",
                "--keep-checkpoints",
                "0",
                *TINY,
            ]
        )
        folder = RunFolder(mount / "run")
        empty = [p for p in mount.rglob("*") if p.is_file() and p.stat().st_size == 0]
        temps = list(mount.rglob(".*.tmp"))
        line = next((s for s in err.splitlines() if s.startswith("error")), "")
        named = (
            bool(re.search(r"/(step_\d+\.(pt|png)|latest|run\.json|stats\.jsonl|log\.txt): cannot be written", line))
            or ": the output folder cannot be written" in line
        )
        latest_ok = True
        if folder.checkpoint_steps():
            try:
                folder.load_checkpoint("latest", fallback=False)
            except OsmisError:
                latest_ok = False
        truthful = ("is kept as latest" in line) == bool(folder.checkpoint_steps())
        rows.append(
            Row(
                "full disk during training",
                "train into a 600 KiB tmpfs, checkpoint and preview every step",
                f"exit {code}; file named: {named}; message true: {truthful}; {len(empty)} empty files, "
                f"{len(temps)} temporaries; latest loads: {latest_ok}",
                code == 2 and named and truthful and not empty and not temps and latest_ok,
            )
        )
        for p in list(mount.iterdir()):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        code, err = run_cli(
            ["generate", str(trained), "--out", str(mount / "gallery"), "--n", "400", "--device", "cpu"]
        )
        broken = 0
        for png in (mount / "gallery").rglob("*.png"):
            try:
                Image.open(png).load()
            except Exception:  # noqa: BLE001 - counted
                broken += 1
        rows.append(
            Row(
                "full disk during generation",
                "generate 400 samples into a 600 KiB tmpfs",
                f"exit {code}, one clear error: {one_clear_error(code, err)}, {broken} broken pictures",
                one_clear_error(code, err) and broken == 0,
            )
        )
    return rows


# -- hostile files -------------------------------------------------------------------------------------------------
class _Payload:
    """Unpickling this would create the marker file: a checkpoint must never execute it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def hostile_checkpoints(workdir: Path) -> list[Row]:
    data = scene(workdir / "scene")
    base = train_tiny(data, workdir / "base", 4)
    good = torch.load(RunFolder(base).checkpoint_path(4), weights_only=True)
    marker = workdir / "EXECUTED"
    nan_g = {
        **good,
        "generator_ema": {
            k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
            for k, v in good["generator_ema"].items()
        },
    }
    cases = {
        "junk bytes": b"junk" * 100,
        "empty file": b"",
        "truncated": None,
        "format only": {"format": 1},
        "step of wrong type": {**good, "step": "four"},
        "architecture lacking fields": {**good, "architecture": {}},
        "a list, not a dict": [1, 2, 3],
        "NaN generator weights": nan_g,
        "weights of another shape": {
            **good,
            "generator_ema": {k: v[..., :1] if v.dim() else v for k, v in good["generator_ema"].items()},
        },
        "config with NaN": {
            **good,
            "config": {**good["config"], "optimisation": {**good["config"]["optimisation"], "lr_g": float("nan")}},
        },
        "pickle payload": _Payload(marker),
    }
    handled = 0
    failures = []
    for name, payload in cases.items():
        run = workdir / f"run-{len(failures)}-{handled}"
        shutil.copytree(base, run)
        path = RunFolder(run).checkpoint_path(4)
        if payload is None:
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        elif isinstance(payload, bytes):
            path.write_bytes(payload)
        elif isinstance(payload, _Payload):
            with open(path, "wb") as f:
                pickle.dump(payload, f)
        else:
            torch.save(payload, path)
        code, err = run_cli(
            ["generate", str(run), "--out", str(workdir / f"g-{name[:4]}"), "--n", "2", "--device", "cpu"]
        )
        fallback = code == 0 and "previous good checkpoint step_0000002.pt" in err
        shape_error = one_clear_error(code, err)
        if fallback or shape_error:
            handled += 1
        else:
            failures.append(f"{name}: exit {code} {err[-200:]}")
        # and a run with only this checkpoint: one clear error (or a clean generate when the loader accepts it)
    for f in failures:
        print("  hostile checkpoint not handled:", f, file=sys.stderr)
    return [
        Row(
            "hostile checkpoints",
            f"{len(cases)} damaged/forged files as the newest checkpoint, then `osmis generate`",
            f"{handled}/{len(cases)} fell back to the previous good checkpoint or ended in "
            f"one clear error; payload executed: {marker.exists()}",
            handled == len(cases) and not marker.exists(),
        )
    ]


def hostile_configs(workdir: Path) -> list[Row]:
    cases = {
        "deep.json": "[" * 200_000 + "]" * 200_000,
        "deep_obj.json": '{"a":' * 100_000 + "1" + "}" * 100_000,
        "nan.json": '{"ema_decay": NaN}',
        "inf.json": '{"lr_g": Infinity}',
        "overflow.json": '{"lr_d": 1e400}',
        "seed.json": f'{{"seed": {2**70}}}',
        "bool.json": '{"iters": true}',
        "string.json": '{"p_aug": "0.5"}',
        "list.json": "[1, 2]",
        "unknown.json": '{"optimisation": {"lr_gg": 1}}',
        "group.json": '{"optimisation": 5}',
        "binary.json": "\udcff\udcfe garbage",
        "empty.json": "",
        "bad.toml": "[run\nseed = ",
        "nan.toml": "[optimisation]\nbeta1 = nan\n",
        "neg.toml": "[run]\niters = -5\n",
    }
    from osmis_core.config import build_config

    clear = 0
    for name, text in cases.items():
        path = workdir / name
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        try:
            build_config(config_file=path)
        except OsmisError:
            clear += 1
        except Exception as exc:  # noqa: BLE001 - counted
            print(f"  config {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
    return [
        Row(
            "hostile config files",
            f"{len(cases)} files (200,000-deep JSON, NaN, Infinity, 1e400, 2**70 "
            "seed, wrong types, unknown keys, broken TOML)",
            f"{clear}/{len(cases)} one clear ConfigError",
            clear == len(cases),
        )
    ]


def hostile_manifests(workdir: Path) -> list[Row]:
    from osmis_core.application.evaluation import read_gallery

    img = workdir / "g" / "images"
    img.mkdir(parents=True)
    Image.new("RGB", (16, 16)).save(img / "0000.png")
    cases = [
        {},
        {"items": 5},
        {"items": [5]},
        {"items": [{"image": "images/0000.png"}]},
        {"items": [{"index": "0", "image": "images/0000.png"}]},
        {"items": [{"index": 0, "image": "../../../etc/passwd"}]},
        {"items": [{"index": 0, "image": "/etc/passwd"}]},
        {"items": [{"index": 0, "image": 7}]},
        {"items": [{"index": 0, "image": "images/missing.png"}]},
        [],
        "text",
        None,
    ]
    texts = [json.dumps(c) for c in cases] + ["[" * 100_000 + "]" * 100_000, "{not json"]
    clear = 0
    for text in texts:
        (workdir / "g" / "manifest.json").write_text(text)
        try:
            read_gallery(workdir / "g")
        except OsmisError:
            clear += 1
        except Exception as exc:  # noqa: BLE001 - counted
            print(f"  manifest {text[:60]}: {type(exc).__name__}: {exc}", file=sys.stderr)
    return [
        Row(
            "hostile gallery manifests",
            f"{len(texts)} manifests (no items, wrong types, paths out of the gallery, 100,000-deep JSON)",
            f"{clear}/{len(texts)} one clear DataError",
            clear == len(texts),
        )
    ]


# -- bad numbers ---------------------------------------------------------------------------------------------------
def bad_numbers(workdir: Path) -> list[Row]:
    """Every numeric option of train (DATA missing, so a value that is accepted ends in 'no such file') and the
    count flags of generate, with hostile values: exit 2 with one sentence each time, never a traceback."""
    from osmis_core.config import FIELDS, option_type

    data = scene(workdir / "scene")
    trained = train_tiny(data, workdir / "trained", 2)
    values = ["nan", "inf", "-inf", "-1", "1e308", str(2**70), "abc"]
    cases = []
    for name in FIELDS:
        if option_type(name) in (int, float):
            for v in values:
                cases.append(
                    ["train", str(workdir / "missing"), "--out", str(workdir / "r"), "--" + name.replace("_", "-"), v]
                )
    for flag in ("--n", "--batch-size", "--seed"):
        for v in ("-1", "0", str(2**70), "nan") if flag != "--seed" else ("-1", str(2**70), "nan"):
            cases.append(["generate", str(trained), "--out", str(workdir / "g"), flag, v, "--device", "cpu"])
    tracebacks = wrong = refused = 0
    for argv in cases:
        code, err = run_cli(argv)
        tracebacks += "Traceback" in err
        # argparse (not a number of the flag's type): one line, `osmis SUB: error: ...`
        usage = code == 2 and len(err.strip().splitlines()) == 1 and err.startswith(f"osmis {argv[0]}: error: ")
        if code == 0 and argv[0] == "generate":
            continue  # a valid value (a batch larger than --n, say) and a gallery written
        if not (one_clear_error(code, err) or usage):
            wrong += 1
            print(f"  {' '.join(argv[-4:])}: exit {code}: {err[-200:]}", file=sys.stderr)
        elif "no such file" not in err:
            refused += 1
    return [
        Row(
            "bad numbers",
            f"{len(cases)} flag values (NaN, ±inf, -1, 1e308, 2**70, text) on every numeric "
            "option of train and the count flags of generate",
            f"{len(cases) - wrong}/{len(cases)} exit 2 with "
            f"one sentence or were valid ({refused} refused for the value), {tracebacks} tracebacks",
            wrong == 0 and tracebacks == 0,
        )
    ]


# -- NaN injection -------------------------------------------------------------------------------------------------
def nan_injection(workdir: Path) -> list[Row]:
    from osmis_core.application.session import resume_training
    from osmis_core.events import TrainingFailed

    data = scene(workdir / "scene")
    ok = 0
    targets = ("generator", "discriminator", "lr")
    for target in targets:
        run = train_tiny(data, workdir / f"run-{target}", 4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "lr 1e30 is far above usual values": known
            if target == "lr":
                trainer = resume_training(run, {"iters": 12, "lr_g": 1e30, "lr_d": 1e30, "checkpoint_every": 1})
            else:
                trainer = resume_training(run, {"iters": 12, "checkpoint_every": 1})
                with torch.no_grad():
                    next(getattr(trainer, target).parameters()).fill_(float("nan"))
            events = list(trainer.run())
        failed = isinstance(events[-1], TrainingFailed) and "diverged" in events[-1].message
        folder = RunFolder(run)
        finite = True
        for s in folder.checkpoint_steps():
            state = torch.load(folder.checkpoint_path(s), weights_only=True)
            for key in ("generator", "generator_ema", "discriminator"):
                finite &= all(bool(torch.isfinite(t).all()) for t in state[key].values() if t.is_floating_point())
        ok += failed and finite
    return [
        Row(
            "NaN injection",
            "a NaN written into G or D after resuming, or lr 1e30, checkpoint every step",
            f"{ok}/{len(targets)} stopped as 'diverged' with every saved checkpoint finite",
            ok == len(targets),
        )
    ]


# -- decompression bombs -------------------------------------------------------------------------------------------
def _peak_rss_of(argv: list[str], env: dict | None = None) -> tuple[int, str, float]:
    # VmHWM: this process's own peak (ru_maxrss would keep the parent's peak across fork and exec)
    code = (
        "import re, sys\nfrom osmis_core.cli import main\nrc = main(sys.argv[1:])\n"
        "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
        "print('RSS', hwm, file=sys.stderr)\nsys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *argv], env={**_env(), **(env or {})}, capture_output=True, text=True, timeout=300
    )
    m = re.search(r"RSS (\d+)", proc.stderr)
    return proc.returncode, proc.stderr, (int(m.group(1)) / 1024 if m else float("nan"))


def bombs(workdir: Path) -> list[Row]:
    img = workdir / "a.png"
    Image.new("RGB", (128, 64), (10, 120, 40)).save(img)
    baseline = _peak_rss_of(["inspect", str(img)])[2]
    cases = [
        ("30000x30000 RGB PNG", ["inspect", str(png_declaring(workdir / "rgb.png", 30000, 30000))]),
        ("25000x25000 RGB PNG", ["inspect", str(png_declaring(workdir / "rgb2.png", 25000, 25000))]),
        (
            "28000x16000 1-bit mask PNG",
            ["inspect", str(img), "--mask", str(png_declaring(workdir / "m.png", 28000, 16000, 1, 0))],
        ),
        ("15000x15000 GIF video", ["inspect", str(gif_declaring(workdir / "clip.gif", 15000, 15000))]),
    ]
    rows = []
    for name, argv in cases:
        t0 = time.perf_counter()
        code, err, rss = _peak_rss_of(argv)
        seconds = time.perf_counter() - t0
        refused = code == 2 and "OSMIS_MAX_IMAGE_PIXELS" in err and "Traceback" not in err
        rows.append(
            Row(
                "decompression bomb",
                f"{name} ({Path(argv[-1]).stat().st_size} bytes) to `osmis inspect`",
                f"refused: {refused}; peak RSS {rss:.0f} MB (a normal inspect: {baseline:.0f} MB); {seconds:.1f} s",
                refused and rss < baseline + 200,
            )
        )
    return rows


# -- property-based tests of the readers ---------------------------------------------------------------------------
class Outcomes:
    """Counts of reader calls by outcome; anything but success or an OsmisError is a failure."""

    def __init__(self):
        self.ok = self.clear = 0
        self.failures: list[str] = []

    def call(self, fn, *args):
        def on_alarm(signum, frame):
            raise TimeoutError(f"no answer within {HANG_S} s")

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(HANG_S)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn(*args)
            self.ok += 1
        except OsmisError:
            self.clear += 1
        except Exception as exc:  # noqa: BLE001 - the failure being looked for
            self.failures.append(f"{type(exc).__name__}: {str(exc)[:200]}")
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)

    @property
    def total(self) -> int:
        return self.ok + self.clear + len(self.failures)


def _seed_files(workdir: Path) -> dict[str, bytes]:
    """Valid small files of each kind, for the property tests to mutate."""
    rng = np.random.default_rng(1)
    out = {}
    arr = (rng.random((24, 32, 3)) * 255).astype(np.uint8)
    for fmt, ext in (("PNG", "png"), ("JPEG", "jpg"), ("BMP", "bmp"), ("TIFF", "tif"), ("WEBP", "webp")):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, fmt)
        out[ext] = buf.getvalue()
    buf = io.BytesIO()
    Image.fromarray((np.arange(24 * 32).reshape(24, 32) % 3).astype(np.uint8) * 100).save(buf, "PNG")
    out["mask"] = buf.getvalue()
    frames = [Image.fromarray(np.roll(arr, i, 1)).convert("P", palette=Image.ADAPTIVE) for i in range(4)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=40)
    out["gif"] = buf.getvalue()
    try:
        import av

        path = workdir / "seed.mp4"
        with av.open(str(path), "w") as c:
            s = c.add_stream("mpeg4", rate=10)
            s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
            for i in range(4):
                frame = av.VideoFrame.from_ndarray(np.roll(arr[:, :32], i, 1).copy(), format="rgb24")
                for packet in s.encode(frame):
                    c.mux(packet)
            for packet in s.encode():
                c.mux(packet)
        out["mp4"] = path.read_bytes()
    except Exception as exc:  # noqa: BLE001 - the mp4 seed is optional
        print(f"  no mp4 seed ({exc})", file=sys.stderr)
    return out


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int) -> bytes:
    b = bytearray(data)
    for pos, value in edits:
        if b:
            b[pos % len(b)] = value
    return bytes(b[: max(0, len(b) - cut)])


def property_tests(workdir: Path, examples: int) -> list[Row]:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from osmis_core.application.evaluation import read_gallery
    from osmis_core.config import build_config
    from osmis_core.data.masks import decode_masks
    from osmis_core.data.sources import open_image, open_mask

    seeds = _seed_files(workdir)
    opts = settings(
        max_examples=examples, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    edits = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8)
    rows = []

    # image files: mutated valid files of every format, and random bytes
    image_out = Outcomes()
    image_keys = [k for k in ("png", "jpg", "bmp", "tif", "webp") if k in seeds]

    @opts
    @given(st.sampled_from(image_keys), edits, st.integers(0, 64), st.binary(max_size=64), st.booleans())
    def images(kind, ed, cut, junk, use_junk):
        path = workdir / f"prop.{kind}"
        path.write_bytes(junk if use_junk else _mutate(seeds[kind], ed, cut))
        image_out.call(open_image, path)

    images()
    rows.append(_property_row("image reader", "mutated PNG/JPEG/BMP/TIFF/WEBP files and random bytes", image_out))

    # masks: files (mutated) and arrays of every mode and value pattern
    mask_out = Outcomes()
    modes = st.sampled_from(["L", "P", "RGB", "I;16", "1", "RGBA", "LA", "I", "F"])

    @opts
    @given(
        modes,
        st.integers(1, 40),
        st.integers(1, 40),
        st.integers(0, 2**32 - 1),
        st.integers(1, 300),
        edits,
        st.booleans(),
        st.integers(2, 40),
    )
    def masks(mode, w, h, seed, levels, ed, as_file, max_classes):
        if as_file:
            path = workdir / "prop_mask.png"
            path.write_bytes(_mutate(seeds["mask"], ed, 0))
            mask_out.call(lambda: decode_masks([open_mask(path)], [str(path)], max_classes))
            return
        im = _mask_image(mode, w, h, seed, levels)
        mask_out.call(decode_masks, [im], ["m"], max_classes)

    masks()
    rows.append(_property_row("mask reader", "mutated mask files; random masks of 9 modes, 1-300 levels", mask_out))

    # video: mutated GIF / MP4 files, with a mask folder of some count
    video_out = Outcomes()
    video_keys = [k for k in ("gif", "mp4") if k in seeds]

    @opts
    @given(st.sampled_from(video_keys), edits, st.integers(0, 200) | st.just(0), st.none() | st.integers(0, 6))
    def videos(kind, ed, cut, n_masks):
        folder = workdir / "prop_video"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        path = folder / f"clip.{kind}"
        path.write_bytes(_mutate(seeds[kind], ed, cut))
        if n_masks is not None:
            (folder / "mask").mkdir()
            for i in range(n_masks):
                (folder / "mask" / f"{i:05d}.png").write_bytes(seeds["mask"])
        video_out.call(_load_video, path)

    videos()
    rows.append(_property_row("video reader", "mutated GIF/MP4 files with 0-6 masks", video_out))

    # configs: any JSON value
    config_out = Outcomes()
    from osmis_core.config import FIELDS

    names = st.sampled_from(sorted(FIELDS) + ["data", "run", "optimisation", "_comment", "bogus", "config"])
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    values = st.recursive(
        scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(names, c, max_size=3), max_leaves=10
    )

    @opts
    @given(st.dictionaries(names, values, max_size=6) | values)
    def configs(doc):
        path = workdir / "prop.json"
        path.write_text(json.dumps(doc))
        config_out.call(build_config, None, path)

    configs()
    rows.append(_property_row("config reader", "random JSON documents over the option names", config_out))

    # manifests: random item lists
    manifest_out = Outcomes()
    gallery = workdir / "prop_gallery"
    (gallery / "images").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8)).save(gallery / "images" / "0000.png")
    item_values = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.text(max_size=12)
        | st.sampled_from(["images/0000.png", "../x.png", "/etc/passwd", "images/none.png"])
    )
    items = st.lists(
        st.dictionaries(st.sampled_from(["index", "image", "mask", "overlay"]), item_values, max_size=4), max_size=4
    ) | st.just([{"index": 0, "image": "images/0000.png"}])

    @opts
    @given(st.dictionaries(st.sampled_from(["items", "n", "seed"]), items | item_values, max_size=3) | items)
    def manifests(doc):
        (gallery / "manifest.json").write_text(json.dumps(doc))
        manifest_out.call(read_gallery, gallery)

    manifests()
    rows.append(_property_row("manifest reader", "random manifests (items of any shape and type)", manifest_out))
    return rows


def _mask_image(mode: str, w: int, h: int, seed: int, levels: int) -> Image.Image:
    """A random h x w mask of `levels` values spread over the range of `mode`."""
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4}.get(mode, 1)
    v = rng.integers(0, levels, (h, w, channels))
    step8 = max(1, 255 // max(1, levels - 1))
    if mode in ("RGB", "RGBA"):
        return Image.fromarray(np.clip(v * step8, 0, 255).astype(np.uint8), mode)
    v = v[..., 0]
    if mode == "I;16":
        return Image.fromarray(np.clip(v * max(1, 65535 // max(1, levels - 1)), 0, 65535).astype(np.uint16))
    if mode == "I":
        return Image.fromarray((v * 97).astype(np.int32), "I")
    if mode == "F":
        return Image.fromarray(v.astype(np.float32), "F")
    grey = np.clip(v * step8, 0, 255).astype(np.uint8)
    if mode == "P":
        im = Image.fromarray(np.clip(v, 0, 255).astype(np.uint8), "P")
        im.putpalette([(i * 37) % 256 for i in range(768)])
        return im
    return Image.fromarray(grey, "L").convert(mode)


def _load_video(path: Path) -> None:
    from osmis_core.data.sources import find_source, load_frame_set

    mask = path.parent / "mask"
    source = find_source(path, mask if mask.is_dir() else None)
    load_frame_set(source, 100)


def _property_row(name: str, injected: str, out: Outcomes) -> Row:
    for f in out.failures[:5]:
        print(f"  {name}: {f}", file=sys.stderr)
    return Row(
        f"property test: {name}",
        f"hypothesis, {injected}",
        f"{out.total} inputs: {out.ok} read, {out.clear} one clear error, {len(out.failures)} other "
        f"exceptions or hangs",
        not out.failures,
    )


# -- the suite -----------------------------------------------------------------------------------------------------
def run_suite(cycles: int, examples: int, only: set[str] | None = None) -> list[Row]:
    checks = {
        "kill": lambda d: kill_resume(d, cycles),
        "disk": full_disk,
        "checkpoints": hostile_checkpoints,
        "configs": hostile_configs,
        "manifests": hostile_manifests,
        "numbers": bad_numbers,
        "nan": nan_injection,
        "bombs": bombs,
        "properties": lambda d: property_tests(d, examples),
    }
    rows: list[Row] = []
    for name, check in checks.items():
        if only and name not in only:
            continue
        with tempfile.TemporaryDirectory(prefix=f"osmis-faults-{name}-") as tmp:
            t0 = time.perf_counter()
            result = check(Path(tmp))
            print(f"[{name}: {time.perf_counter() - t0:.0f} s]", file=sys.stderr)
            rows += result
    return rows


def table(rows: list[Row]) -> str:
    lines = ["| fault | how it is injected | measured | passed |", "|---|---|---|---|"]
    lines += [f"| {r.fault} | {r.injected} | {r.figure} | {'yes' if r.passed else '**NO**'} |" for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="the settings of the test suite (3 cycles, 25 examples)")
    p.add_argument("--cycles", type=int, default=30, help="kill-and-resume cycles (default 30)")
    p.add_argument("--examples", type=int, default=300, help="hypothesis examples per reader (default 300)")
    p.add_argument(
        "--only", help="comma-separated: kill, disk, checkpoints, configs, manifests, numbers, nan, bombs, properties"
    )
    p.add_argument("--json", help="also write the rows as JSON here")
    args = p.parse_args()
    cycles, examples = (3, 25) if args.quick else (args.cycles, args.examples)
    t0 = time.perf_counter()
    rows = run_suite(cycles, examples, set(args.only.split(",")) if args.only else None)
    print(table(rows))
    print(
        f"\n{len(rows)} checks, {sum(not r.passed for r in rows)} failed, {time.perf_counter() - t0:.0f} s "
        f"(python benchmarks/faults.py {' '.join(sys.argv[1:])})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in rows], indent=2) + "\n")
    sys.exit(1 if any(not r.passed for r in rows) else 0)
