"""The mIoU segmenter's settings and size rules (spec/metrics.md), importable without torch: the registry and the
CLI read them; metrics.miou trains and scores with them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Progress = Callable[[str, int, int], None]  # (stage, done, total)

MIN_SIZE = 32


@dataclass(frozen=True)
class MIoUSetting:
    """How the segmenter is trained. steps: per direction; max_side: the longer side (pixels) of its input, or
    None for the gallery's own size. The chosen setting is written to metrics.json (`settings`)."""

    name: str
    steps: int
    max_side: int | None

    def with_steps(self, steps: int | None) -> MIoUSetting:
        """This setting with another step count (None keeps it); metrics.json records the steps that ran."""
        if steps is None or steps == self.steps:
            return self
        if steps < 1:
            raise ValueError(f"mIoU steps must be at least 1, got {steps}")
        return MIoUSetting(self.name, steps, self.max_side)


FULL = MIoUSetting("full", 500, None)  # spec/metrics.md
# Steps are the lever: at the quick preset's 160x96 most of a step's cost is the ResNet-18's deepest layers and
# Adam, which scale with the parameter count, not with the pixels (torch.profiler on a CPU, one thread).
AFFORDABLE = MIoUSetting("affordable", 150, 96)
MIOU_SETTINGS = {"full": FULL, "affordable": AFFORDABLE}


def train_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """(h, w) of the segmenter's input for images of `size` (h, w): scaled down (aspect kept) so that the
    longer side is at most `max_side`, each side at least MIN_SIZE; unchanged when already small enough."""
    h, w = size
    if max_side is None or max(h, w) <= max_side:
        return h, w
    scale = max_side / max(h, w)
    return max(MIN_SIZE, round(h * scale)), max(MIN_SIZE, round(w * scale))
