"""Findings of breaker session 31: the engine's side (no training)."""

from __future__ import annotations

import json

import pytest

from osmis_core.errors import ConfigError


def test_a_home_folder_of_no_user_is_refused_in_a_sentence(tmp_path):
    """'~name' of no user, as a batch source's data or --weights-dir: one sentence naming the path (Path.expanduser's
    RuntimeError "Could not determine home directory." had ended both in a traceback); '~' itself is the home."""
    from pathlib import Path

    from osmis_core.batch.sources import list_sources
    from osmis_core.config import expand_user
    from osmis_core.metrics.weights import check_weights_dir

    assert expand_user("~/x") == Path.home() / "x"
    with pytest.raises(ConfigError, match=r"^~nosuchuser31/w: ~nosuchuser31 is no user's home folder\.$"):
        check_weights_dir("~nosuchuser31/w")
    sources = tmp_path / "sources.json"
    sources.write_text(json.dumps([{"data": "~nosuchuser31/scene.png"}]))
    with pytest.raises(ConfigError, match=r"~nosuchuser31/scene.png: ~nosuchuser31 is no user's home folder\.$"):
        list_sources(sources)
