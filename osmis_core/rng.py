"""torch's global random generator, one per process and shared by its threads: the sections that seed it and then
draw from it (a trainer building its networks, a metric building its random-weight networks) run one at a time,
so that two trainers, or a trainer and another's first evaluation, started at once in two threads each get the
numbers of their own seed."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch

_GLOBAL_RNG = threading.RLock()


@contextlib.contextmanager
def seeded_global_rng(seed: int, restore: bool) -> Iterator[None]:
    """Run the block with torch's global CPU generator seeded to `seed`, no other seeded section of the process
    running meanwhile. restore: put the caller's generator state back afterwards (a metric's fixed random
    weights); else it is left as the block left it (a trainer, whose checkpoints record it)."""
    with _GLOBAL_RNG:
        if restore:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                yield
        else:
            torch.manual_seed(seed)
            yield


def offset_seed(seed: int, offset: int) -> int:
    """The seed `offset` past a run's --seed (seed + 1 draws the preview noise, seed + 2 the evaluation noise, the
    renderer's batch-norm refresh and preview layouts more), wrapped modulo 2**64: torch's generators take 0..2**64-1,
    and a --seed near config.MAX_SEED would otherwise overflow at the first preview or evaluation (seeds below it are
    unchanged)."""
    return (int(seed) + offset) % 2**64
