"""Health checks of a training run: small stateful detectors fed one value per logging tick or evaluation.

Each detector's update() returns an Alarm the first time its fault is seen (once per episode: it re-arms when the
values are healthy again) and None otherwise; reset() forgets the history (after a rollback). They hold plain
Python floats, so they cost nothing next to a training step and can be tested on synthetic sequences; state_dict()
and load_state_dict() carry that history in a checkpoint, so that a resumed run goes on counting a fault that had
begun before it stopped.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MAD_TO_SIGMA = 1.4826  # a normal distribution's standard deviation is 1.4826 x its median absolute deviation


@dataclass(frozen=True)
class Alarm:
    """kind: nonfinite, d_spike, diversity_collapse, empty_masks or missing_class. collapse: False for a quality
    warning that --on-collapse does not act on (it is only reported: rolling back or stopping does not fix it)."""

    kind: str
    message: str
    collapse: bool = True


class _Episode:
    """Fires on the `patience`-th faulty observation in a row, then stays quiet until a healthy observation
    re-arms it. after_healthy: faults are only counted once a healthy observation has been seen (a collapse is a
    fall from a healthy state; the blurred, uniform samples of the first iterations are not one)."""

    def __init__(self, patience: int = 1, after_healthy: bool = False):
        self.patience, self.after_healthy = patience, after_healthy
        self.reset()

    def reset(self) -> None:
        self._healthy_seen = not self.after_healthy
        self._run = 0
        self._fired = False

    def observe(self, faulty: bool) -> bool:
        if not faulty:
            self._healthy_seen = True
        if not self._healthy_seen:
            return False
        if not faulty:
            self._run, self._fired = 0, False
            return False
        self._run += 1
        if self._run >= self.patience and not self._fired:
            self._fired = True
            return True
        return False

    def state_dict(self) -> dict:
        return {"healthy_seen": self._healthy_seen, "run": self._run, "fired": self._fired}

    def load_state_dict(self, state: dict) -> None:
        self._healthy_seen, self._run, self._fired = (
            bool(state["healthy_seen"]),
            int(state["run"]),
            bool(state["fired"]),
        )

    @property
    def active(self) -> bool:
        """The fault is present now (fired and not yet healthy again)."""
        return self._fired


class NonFinite:
    """Any logged value (loss term or mean logit) that is NaN or infinite."""

    kind = "nonfinite"

    def update(self, step: int, values: Mapping[str, float]) -> Alarm | None:
        bad = sorted(k for k, v in values.items() if not math.isfinite(v))
        if not bad:
            return None
        return Alarm(self.kind, f"{', '.join(bad)} became NaN or infinite by step {step}")

    def reset(self) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    @property
    def active(self) -> bool:
        return False


class DiscriminatorSpike:
    """The mean D(real) logit far above its running level: above the median of the last `window` values by more
    than `k` robust standard deviations (1.4826 x MAD) and by at least `min_rise` (logits)."""

    kind = "d_spike"

    def __init__(self, window: int = 50, warmup: int = 10, k: float = 6.0, min_rise: float = 3.0):
        self.window, self.warmup, self.k, self.min_rise = window, warmup, k, min_rise
        self._episode = _Episode()
        self.reset()

    def reset(self) -> None:
        self._history: deque[float] = deque(maxlen=self.window)
        self._episode.reset()

    def state_dict(self) -> dict:
        return {"history": list(self._history), "episode": self._episode.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self._history = deque((float(x) for x in state["history"]), maxlen=self.window)
        self._episode.load_state_dict(state["episode"])

    def update(self, step: int, d_real: float) -> Alarm | None:
        spike, alarm = False, None
        if len(self._history) >= self.warmup:
            median = statistics.median(self._history)
            mad = statistics.median(abs(x - median) for x in self._history)
            limit = median + max(self.k * MAD_TO_SIGMA * mad, self.min_rise)
            spike = d_real > limit
            if self._episode.observe(spike):
                alarm = Alarm(
                    self.kind,
                    f"discriminator spike at step {step}: mean D(real) logit {d_real:.2f}, "
                    f"running median {median:.2f} (limit {limit:.2f})",
                )
        if not spike:
            self._history.append(d_real)  # the running level is that of healthy ticks
        return alarm

    @property
    def active(self) -> bool:
        return self._episode.active


class DiversityCollapse:
    """Fixed-noise samples nearly identical: pixel diversity below `floor` for `patience` evaluations in a row,
    after it had been above it."""

    kind = "diversity_collapse"

    def __init__(self, floor: float = 0.02, patience: int = 2, after_healthy: bool = True):
        self.floor = floor
        self._episode = _Episode(patience, after_healthy)

    def reset(self) -> None:
        self._episode.reset()

    def state_dict(self) -> dict:
        return {"episode": self._episode.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self._episode.load_state_dict(state["episode"])

    def update(self, step: int, diversity: float) -> Alarm | None:
        if self._episode.observe(diversity < self.floor):
            return Alarm(
                self.kind,
                f"diversity collapse at step {step}: pixel diversity {diversity:.4f} of the "
                f"fixed-noise samples is below {self.floor} (they are nearly identical)",
            )
        return None

    @property
    def active(self) -> bool:
        return self._episode.active


class EmptyMasks:
    """One class takes at least `share` of the pixels of every generated mask, while the real masks' largest class
    takes less than `real_share` (they have several classes), for `patience` evaluations in a row, after the
    generated masks had shown several classes."""

    kind = "empty_masks"

    def __init__(self, share: float = 0.98, real_share: float = 0.9, patience: int = 2):
        self.share, self.real_share = share, real_share
        self._episode = _Episode(patience, after_healthy=True)

    def reset(self) -> None:
        self._episode.reset()

    def state_dict(self) -> dict:
        return {"episode": self._episode.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self._episode.load_state_dict(state["episode"])

    def update(self, step: int, largest_shares: Sequence[float], real_largest_share: float) -> Alarm | None:
        """largest_shares: per generated sample, the share (0..1) of its most frequent class."""
        faulty = real_largest_share < self.real_share and min(largest_shares) >= self.share
        if self._episode.observe(faulty):
            return Alarm(
                self.kind,
                f"empty masks at step {step}: one class covers at least {min(largest_shares):.1%} "
                f"of every generated mask (real masks: largest class {real_largest_share:.1%})",
            )
        return None

    @property
    def active(self) -> bool:
        return self._episode.active


class MissingClass:
    """A class that takes at least `min_real_share` of the real masks' pixels has coverage 0 (it appears in none of
    the evaluated samples, by the threshold of monitor.class_coverage) for `patience` evaluations in a row. One
    episode per class; a class that was never generated counts from the first evaluation checked (the fault this
    finds is a class the generator does not learn, not a fall from a healthy state).

    Not a collapse (Alarm.collapse False): in README's main job the class is missing from every checkpoint (steps
    500, 1,000, 1,200), so a rollback to an earlier one does not bring it back and stopping only ends training
    that might still learn it; the warning tells the user to look at the samples."""

    kind = "missing_class"

    def __init__(self, min_real_share: float = 0.01, patience: int = 2):
        self.min_real_share, self.patience = min_real_share, patience
        self.reset()

    def reset(self) -> None:
        self._episodes: dict[int, _Episode] = {}

    def state_dict(self) -> dict:
        return {"episodes": {str(k): e.state_dict() for k, e in self._episodes.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.reset()
        for k, episode in state["episodes"].items():
            self._episodes[int(k)] = _Episode(self.patience)
            self._episodes[int(k)].load_state_dict(episode)

    def update(
        self, step: int, coverage: Sequence[float | None], real_shares: Sequence[float], samples: int
    ) -> Alarm | None:
        """coverage: per class id, the share (0..1) of samples in which the class appears (None: not in the real
        masks); real_shares: per class id, its share (0..1) of the real masks' pixels; samples: how many samples
        were evaluated. Returns one alarm naming every class whose episode fired at this evaluation."""
        fired = []
        for k, (cov, real) in enumerate(zip(coverage, real_shares, strict=True)):
            if cov is None or real < self.min_real_share:
                continue
            episode = self._episodes.setdefault(k, _Episode(self.patience))
            if episode.observe(cov == 0):
                fired.append(f"class {k} ({real:.1%} of the real masks' pixels)")
        if not fired:
            return None
        return Alarm(
            self.kind,
            f"missing class at step {step}: {', '.join(fired)} {'appears' if len(fired) == 1 else 'appear'} in "
            f"none of the {samples} fixed-noise samples at {self.patience} evaluations in a row",
            collapse=False,
        )

    @property
    def active(self) -> bool:
        return any(e.active for e in self._episodes.values())
