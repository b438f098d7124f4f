"""Findings of breaker session 22: the engine's side (CPU, tiny settings)."""

from __future__ import annotations

import pytest

from osmis_core.batch.sources import source_config
from osmis_core.config import OsmisConfig, option_label
from osmis_core.errors import ConfigError


def test_with_options_names_the_noise_channels_rule_as_its_caller_does():
    """noise_spatial above noise_dim is refused naming the options as the caller names them (a form's labels, a
    batch's flag), as every other rule between options: the copy's own check named them "option 'NAME'"."""
    base = OsmisConfig().replace(model="renderer", noise_dim=4)
    with pytest.raises(ConfigError) as form:
        base.with_options({"noise_spatial": 6}, name_as=option_label)
    assert str(form.value).startswith("Per-pixel noise channels (6)") and "Noise dim (4)" in str(form.value)
    with pytest.raises(ConfigError, match="the batch's --noise-dim"):
        source_config(base, {"noise_spatial": 6}, typed={"noise_dim"})
