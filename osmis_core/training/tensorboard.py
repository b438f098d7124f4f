"""TensorBoard logs of a run (--tensorboard): losses, D logits, p_aug, training metrics and preview grids, written
through torch.utils.tensorboard from the trainer's events (the tensorboard package is an optional extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import ConfigError
from ..events import Event, HealthEvent, PreviewReady, RolledBack, StepEval, StepStats

_MISSING = (
    "--tensorboard needs the tensorboard package, which is not installed "
    "(pip install 'osmis-studio[tensorboard]' or pip install tensorboard)."
)


def require_tensorboard(log_dir: str | Path | None = None) -> None:
    """Raise ConfigError when torch.utils.tensorboard cannot be used, or when `log_dir` (RUN/tensorboard) is there
    but is not a folder. Called before a run is started or resumed, so that a refusal comes before run.json or
    log.txt record a change that never trained."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401 - imported to check it is usable
    except ImportError:
        raise ConfigError(_MISSING) from None
    if log_dir is not None and Path(log_dir).exists() and not Path(log_dir).is_dir():
        raise ConfigError(f"{log_dir}: is a file, not a folder; --tensorboard writes its logs into a folder there.")


# TensorBoard's group of each StepStats.extra value: the adapted augmentation probability, the learning-rate
# schedule's factor
EXTRA_GROUPS = {"p_aug": "augmentation", "lr_scale": "optimisation"}


class TensorBoardLog:
    """Writes the events of one training session into `log_dir` (scalars by step; preview grids as images)."""

    def __init__(self, log_dir: str | Path, resumed_at: int | None = None):
        """resumed_at: the step a resumed run restarts from; what was logged after it (before the checkpoint a
        resume starts from was left behind) is purged, as stats.jsonl is truncated."""
        require_tensorboard()
        self.log_dir = str(log_dir)
        self._health: list[tuple[int, str]] = []  # (step, text) of this session's health reports
        self.writer = self._open(resumed_at)

    def _open(self, back_to: int | None):
        """A writer that hides what was logged after step `back_to` (None: nothing is hidden)."""
        from torch.utils.tensorboard import SummaryWriter

        # purge_step hides the events at and after it, in this log directory's earlier event files
        return SummaryWriter(log_dir=self.log_dir, purge_step=back_to + 1 if back_to is not None else None)

    def write(self, event: Event) -> None:
        w = self.writer
        if isinstance(event, StepStats):
            for key, value in event.losses.items():
                w.add_scalar(f"loss/{key}", value, event.step)
            w.add_scalar("logits/d_real", event.d_real, event.step)
            w.add_scalar("logits/d_fake", event.d_fake, event.step)
            for key, value in event.extra.items():
                w.add_scalar(f"{EXTRA_GROUPS.get(key, 'training')}/{key}", value, event.step)
            w.add_scalar("speed/it_per_s", event.it_per_s, event.step)
        elif isinstance(event, StepEval):
            for key, value in event.metrics.items():
                w.add_scalar(f"metrics/{key}", value, event.step)
            for key, values in event.per_class.items():
                for k, value in enumerate(values):
                    if value is not None:
                        w.add_scalar(f"metrics/{key}/class_{k}", value, event.step)
        elif isinstance(event, PreviewReady):
            with Image.open(event.path) as im:
                grid = np.asarray(im.convert("RGB"))
            w.add_image("preview", grid, event.step, dataformats="HWC")
        elif isinstance(event, HealthEvent):
            self._health.append((event.step, f"{event.kind} ({event.action}): {event.message}"))
            w.add_text("health", self._health[-1][1], event.step)
        elif isinstance(event, RolledBack):
            # the steps after the checkpoint rolled back to are trained again: their scalars and images are hidden
            # (as stats.jsonl drops their lines), so that each step shows once; the health reports are kept
            w.close()
            self.writer = w = self._open(event.to_step)
            for step, text in self._health:
                if step > event.to_step:
                    w.add_text("health", text, step)
            w.add_text("health", f"rolled back to step {event.to_step}, lr_d {event.lr_d:g}", event.step)

    def close(self) -> None:
        self.writer.close()
