"""The one reading of a checkpoint's name (runfolder.checkpoint_name) and the plain reason given for weights that do
not fit their model (runfolder.mismatch_reason): one line, whole words, never torch's multi-line report."""

import pytest
import torch

from osmis_core.application.runfolder import checkpoint_name, mismatch_reason
from osmis_core.errors import OsmisError


@pytest.mark.parametrize("given, read", [("latest", "latest"), ("best", "best"), ("1200", 1200), (4, 4)])
def test_names_the_cli_and_the_app_give(given, read):
    assert checkpoint_name(given) == read


@pytest.mark.parametrize("given, read", [(" best", "best"), ("latest\n", "latest"), (" 2 ", 2)])
def test_surrounding_whitespace_is_ignored_for_words_and_numbers_alike(given, read):
    assert checkpoint_name(given) == read


@pytest.mark.parametrize("given", ["newest", "-3", "1.5", "", " ", "be st", True])
def test_other_names_are_one_sentence_naming_the_option(given):
    with pytest.raises(OsmisError, match="--checkpoint must be 'latest', 'best' or a step number"):
        checkpoint_name(given)


def test_a_renderer_run_has_no_best():
    with pytest.raises(OsmisError, match="--checkpoint must be 'latest' or a step number"):
        checkpoint_name("best", ("latest",))


def test_weights_that_do_not_fit_are_named_on_one_line():
    model = torch.nn.Linear(2, 3)
    state = {"weight": torch.zeros(4, 2), "extra": torch.zeros(1)}
    with pytest.raises(RuntimeError) as caught:
        model.load_state_dict(state)
    assert "\n" in str(caught.value)  # torch's report spans lines
    assert mismatch_reason(caught.value) == "'bias' is missing, 'extra' is not in the model, 'weight' has another size"
    long = mismatch_reason(ValueError("word " * 100 + "\nsecond line"))
    assert "\n" not in long and long.endswith("word ...") and len(long) <= 204
