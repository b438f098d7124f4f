"""Where a batch's files live (one place for the CLI, the library, the Ray workers and the summary)."""

from __future__ import annotations

import json
from pathlib import Path

from ..application.runfolder import RunFolder

GALLERY_NAME = "batch"
# held by the running driver of a batch (driver._only_driver); there from the first batch into the folder on
LOCK_NAME = ".lock"
# what a batch writes into BATCH besides runs/ (a folder holding one of these is refused unless it is a batch's)
BATCH_FILES = ("summary.json", "summary.csv", "index.html", "dataset")


class BatchFolder:
    """BATCH/: runs/<source>/ (normal run folders), dataset/ (merged), summary.json, summary.csv, index.html."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    def run_dir(self, name: str) -> Path:
        return self.runs / name

    def gallery_dir(self, name: str) -> Path:
        """The run's batch gallery: RUN/galleries/batch."""
        return RunFolder(self.run_dir(name)).galleries / GALLERY_NAME

    @property
    def dataset(self) -> Path:
        return self.root / "dataset"

    @property
    def summary_json(self) -> Path:
        return self.root / "summary.json"

    @property
    def summary_csv(self) -> Path:
        return self.root / "summary.csv"

    @property
    def index_html(self) -> Path:
        return self.root / "index.html"

    def stop_file(self, token: str) -> Path:
        """Present while a stop of the batch with this token is requested: the workers poll it."""
        return self.root / f".stop-{token}"

    def refusal(self) -> str | None:
        """Why BATCH cannot be this folder (None: it may). A batch writes summary.json, summary.csv, index.html,
        dataset/ and runs/ into BATCH, replacing what is there under those names: a run folder (run.json) or a
        gallery (manifest.json, with its own index.html) is no batch, and a folder that holds one of those names
        without being a batch's (runs/ or .lock, which the first batch into it made) would lose that file."""
        root = self.root
        if not root.is_dir():  # none yet (or a file, which making the folder says)
            return None
        if (root / "run.json").is_file():
            return "is a run folder (run.json), not a batch's"
        if (root / "manifest.json").is_file():
            return "is a gallery (manifest.json), not a batch's"
        if self.runs.is_dir() or (root / LOCK_NAME).exists():
            return None
        held = [n for n in BATCH_FILES if (root / n).exists()]
        if held:
            return f"holds {held[0]}, which a batch would replace, but no batch (no runs/)"
        return None

    def gallery_manifest(self, name: str) -> dict | None:
        """The run's gallery manifest, or None while there is no complete gallery (the manifest is written last)."""
        path = self.gallery_dir(name) / "manifest.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def is_complete(self, name: str, iters: int, n: int) -> bool:
        """True when the run reached `iters` and its gallery of `n` pairs comes from the latest checkpoint."""
        step = RunFolder(self.run_dir(name)).latest_step()
        manifest = self.gallery_manifest(name)
        return (
            step is not None
            and step >= iters
            and manifest is not None
            and manifest.get("checkpoint_step") == step
            and manifest.get("n") == n
        )
