"""Adaptive augmentation probability (Karras et al. 2020, "Training Generative Adversarial Networks with Limited
Data", section 3): the overfitting heuristic r_t = E[sign(D(real))] is compared with a target every few iterations
and p moves by a fixed step towards more augmentation when r_t is above it (D is too sure of the reals), towards
less otherwise. The step is sized so that p can go from 0 to 1 within `images` real images.
"""

from __future__ import annotations

import torch

ADJUST_EVERY = 4  # iterations between adjustments (the paper's choice)


class AdaptiveP:
    """The current augmentation probability p in [0, 1] and the last measured r_t (None before the first one).

    observe() takes E[sign(D(real))] of one iteration as a 0-d tensor on any device; it is read back to the host
    only every ADJUST_EVERY iterations.
    """

    def __init__(self, p: float, target: float, images: int, batch_size: int):
        self.p = float(p)
        self.target = float(target)
        self.step_size = batch_size * ADJUST_EVERY / images
        self.r_t: float | None = None
        self._sum: torch.Tensor | float = 0.0
        self._count = 0

    def observe(self, sign_mean: torch.Tensor) -> None:
        self._sum = self._sum + sign_mean.detach().float()
        self._count += 1
        if self._count >= ADJUST_EVERY:
            self.r_t = float(self._sum) / self._count
            direction = 1.0 if self.r_t > self.target else -1.0
            self.p = min(1.0, max(0.0, self.p + direction * self.step_size))
            self._sum, self._count = 0.0, 0

    def state_dict(self) -> dict:
        return {"p": self.p, "r_t": self.r_t}

    def load_state_dict(self, state: dict) -> None:
        self.p = float(state["p"])
        self.r_t = state.get("r_t")
        self._sum, self._count = 0.0, 0


def real_sign_mean(maps: list[torch.Tensor]) -> torch.Tensor:
    """E[sign(logit)] over the real/fake logit maps of one discriminator pass (patch and layout maps), 0-d."""
    return torch.stack([m.detach().float().sign().mean() for m in maps]).mean()
