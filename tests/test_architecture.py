import pytest

from osmis_core.errors import ConfigError
from osmis_core.models.architecture import fitted_size, recommend


def test_fitted_size_truncates():
    assert fitted_size(854, 480, 330) == (330, 185)
    assert fitted_size(100, 50, 330) == (100, 50)  # never upscaled


def test_small_size_reduces_layout_branch():
    a = recommend(854, 480, 128)  # the research code crashes here
    assert (a.height, a.width) == (64, 128)
    assert a.num_blocks_d == 6 and a.notes and "reduced" in a.notes[0]
    # every layout map stays at least 1x1
    h, w = a.height // 2**a.num_blocks_d0, a.width // 2**a.num_blocks_d0
    for _ in range(a.num_blocks_d - a.num_blocks_d0):
        h, w = h // 2, w // 2
        assert h >= 1 and w >= 1


def test_too_small_is_refused_with_minimum():
    with pytest.raises(ConfigError, match="too small"):
        recommend(854, 480, 40)


def test_overrides():
    a = recommend(854, 480, 330, num_blocks_d=6, num_blocks_d0=2)
    assert (a.num_blocks_d, a.num_blocks_d0) == (6, 2)
