"""Recommended configuration from the training resolution (docs/model.md section 1)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import ConfigError

# n_g -> (n_d, n_d0)
_D_BLOCKS = {9: (8, 4), 8: (7, 4), 7: (7, 3), 6: (7, 3), 5: (6, 2)}


@dataclass(frozen=True)
class Architecture:
    """Resolution and block counts chosen for one run."""

    height: int
    width: int
    noise_shape: tuple[int, int]
    num_blocks_g: int
    num_blocks_d: int
    num_blocks_d0: int
    notes: tuple[str, ...] = ()

    @property
    def resolution(self) -> tuple[int, int]:
        return (self.height, self.width)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["noise_shape"] = list(self.noise_shape)
        d["notes"] = list(self.notes)
        return d


def fitted_size(width: int, height: int, max_size: int) -> tuple[int, int]:
    """(W, H) scaled down so the larger side is at most max_size, truncated to integers."""
    scale = min(1.0, max_size / max(width, height))
    return int(width * scale), int(height * scale)


def recommend(
    width: int,
    height: int,
    max_size: int,
    num_blocks_g: int | None = None,
    num_blocks_d: int | None = None,
    num_blocks_d0: int | None = None,
) -> Architecture:
    """Choose n_g, noise shape, final resolution and (n_d, n_d0) for an image of (width, height).

    Fixes the research code's defect at small sizes: when the layout branch would shrink below 1x1, n_d is
    reduced (and a note says so); when even one layout block is impossible, a ConfigError names the minimum.
    """
    w, h = fitted_size(width, height, max_size)
    if num_blocks_g is None:
        seen_h = seen_w = False
        for n_g in range(5, 10):
            f = 2 ** (n_g - 1)
            seen_h |= 3 <= h / f <= 7
            seen_w |= 3 <= w / f <= 7
            if seen_h and seen_w:
                break
    else:
        n_g = num_blocks_g
    f = 2 ** (n_g - 1)
    noise = (round(h / f), round(w / f))
    if min(noise) < 1:
        raise ConfigError(
            f"max_size {max_size} is too small for a {width}x{height} image with {n_g} generator "
            f"blocks: the noise map would be empty; use a larger --max-size."
        )
    n_d, n_d0 = _D_BLOCKS[n_g]
    n_d = num_blocks_d if num_blocks_d is not None else n_d
    n_d0 = num_blocks_d0 if num_blocks_d0 is not None else n_d0
    H, W = noise[0] * f, noise[1] * f
    notes = []
    if n_d0 >= n_d:
        raise ConfigError(f"the discriminator needs more blocks than low-level blocks (n_d={n_d}, n_d0={n_d0}).")
    if n_d0 > n_g:
        raise ConfigError(
            f"n_d0={n_d0} low-level discriminator blocks need at least as many generator scales (n_g={n_g})."
        )
    # Low-level blocks halve the map n_d0 times; each layout block halves it again.
    y_h, y_w = H // 2**n_d0, W // 2**n_d0
    max_layout = 0
    while min(y_h // 2 ** (max_layout + 1), y_w // 2 ** (max_layout + 1)) >= 1:
        max_layout += 1
    if max_layout < 1:
        min_side = 2 ** (n_d0 + 1)
        raise ConfigError(
            f"the training resolution {W}x{H} is too small: the discriminator's layout branch needs "
            f"both sides to be at least {min_side} pixels; use a larger --max-size."
        )
    if n_d - n_d0 > max_layout:
        notes.append(
            f"n_d reduced from {n_d} to {n_d0 + max_layout} so that the layout branch stays at least 1x1 at {W}x{H}"
        )
        n_d = n_d0 + max_layout
    return Architecture(H, W, noise, n_g, n_d, n_d0, tuple(notes))
