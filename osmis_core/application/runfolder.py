"""The run folder: run.json, atomic single-file checkpoints with a `latest` pointer, stats.jsonl, log.txt."""
from __future__ import annotations

import json
import platform
import re
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError, OsmisError
from ..files import atomic_write_bytes, atomic_write_text

CHECKPOINT_FORMAT = 1
_CKPT_RE = re.compile(r"^step_(\d+)\.pt$")
_SAMPLE_RE = re.compile(r"^step_(\d+)\.png$")


def versions() -> dict[str, str]:
    from .. import __version__
    return {"osmis": __version__, "torch": torch.__version__, "python": platform.python_version()}


class RunFolder:
    """Paths and files of one training run."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def galleries(self) -> Path:
        """RUN/galleries: every gallery made from this run (by `osmis run`, `osmis generate` or the app)."""
        return self.root / "galleries"

    def gallery_dirs(self) -> list[Path]:
        """The galleries of the run (sub-folders of `galleries` that hold a manifest.json), newest first."""
        if not self.galleries.is_dir():
            return []
        found = [p for p in self.galleries.iterdir() if not p.name.startswith(".") and (p / "manifest.json").is_file()]
        found.sort(key=lambda p: (p / "manifest.json").stat().st_mtime, reverse=True)
        return found

    def sample_files(self) -> list[tuple[int, Path]]:
        """(step, path) of the preview grids in `samples`, by step."""
        if not self.samples.is_dir():
            return []
        return sorted((int(m.group(1)), p) for p in self.samples.iterdir() if (m := _SAMPLE_RE.match(p.name)))

    @property
    def stats(self) -> Path:
        return self.root / "stats.jsonl"

    @property
    def log_file(self) -> Path:
        return self.root / "log.txt"

    def exists(self) -> bool:
        return self.run_json.is_file()

    def create(self) -> None:
        """Make the folders, checking that the location is writable."""
        try:
            for d in (self.root, self.checkpoints, self.samples):
                d.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise OsmisError(f"{self.root}: the output folder cannot be written ({exc.strerror or exc}).") from None

    def write_run_json(self, info: dict[str, Any]) -> None:
        atomic_write_text(self.run_json, json.dumps(info, indent=2) + "\n")

    def read_run_json(self) -> dict[str, Any]:
        try:
            return json.loads(self.run_json.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CheckpointError(f"{self.root}: not a run folder (no run.json).") from None
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{self.run_json}: cannot be read ({exc}).") from None

    def log(self, message: str) -> None:
        with open(self.log_file, "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")

    def append_stats(self, record: dict[str, Any]) -> None:
        with open(self.stats, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def read_stats(self) -> list[dict[str, Any]]:
        if not self.stats.is_file():
            return []
        rows = []
        for line in self.stats.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a crash
        return rows

    def truncate_stats(self, step: int) -> None:
        """Drop stats lines past `step` (written after the checkpoint a resume starts from)."""
        rows = [r for r in self.read_stats() if r.get("step", 0) <= step]
        atomic_write_text(self.stats, "".join(json.dumps(r) + "\n" for r in rows))

    # -- checkpoints ---------------------------------------------------------------------------------------
    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoints / f"step_{step:07d}.pt"

    def checkpoint_steps(self) -> list[int]:
        if not self.checkpoints.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.checkpoints.iterdir() if (m := _CKPT_RE.match(p.name)))

    def save_checkpoint(self, state: dict[str, Any], step: int, keep: int) -> Path:
        path = self.checkpoint_path(step)
        atomic_write_bytes(path, lambda f: torch.save(state, f))
        atomic_write_text(self.checkpoints / "latest", path.name + "\n")
        if keep > 0:
            for old in self.checkpoint_steps()[:-keep]:
                self.checkpoint_path(old).unlink(missing_ok=True)
        return path

    def latest_step(self) -> int | None:
        pointer = self.checkpoints / "latest"
        if pointer.is_file():
            m = _CKPT_RE.match(pointer.read_text(encoding="utf-8").strip())
            if m and self.checkpoint_path(int(m.group(1))).is_file():
                return int(m.group(1))
        steps = self.checkpoint_steps()
        return steps[-1] if steps else None

    def load_checkpoint(self, which: str | int = "latest", map_location="cpu",
                        fallback: bool = True, mmap: bool = False) -> dict[str, Any]:
        """Load a checkpoint safely (weights_only). With fallback, a damaged latest one gives way to the
        previous good one (with a warning). mmap: tensors are read from the file when used."""
        if which == "latest":
            latest = self.latest_step()
            if latest is None:
                raise CheckpointError(f"{self.checkpoints}: the run has no checkpoint yet.")
            candidates = [latest] + [s for s in reversed(self.checkpoint_steps()) if s != latest]
        else:
            step = int(which)
            if not self.checkpoint_path(step).is_file():
                have = ", ".join(map(str, self.checkpoint_steps())) or "none"
                raise CheckpointError(f"{self.checkpoint_path(step)}: no checkpoint at step {step} (have: {have}).")
            candidates = [step]
        errors = []
        for step in candidates if fallback else candidates[:1]:
            path = self.checkpoint_path(step)
            try:
                state = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
                if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
                    raise ValueError("not an OSMIS checkpoint")
                if errors:
                    warnings.warn(f"{errors[0]}; using the previous good checkpoint {path.name}", stacklevel=2)
                return state
            except Exception as exc:  # noqa: BLE001 - any unreadable file is 'damaged'
                errors.append(f"{path}: damaged checkpoint ({type(exc).__name__}: {str(exc)[:120]})")
        raise CheckpointError(errors[0] + ("; no earlier good checkpoint" if len(candidates) > 1 else "") + ".")
