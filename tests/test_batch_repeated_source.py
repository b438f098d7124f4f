"""A batch list that gives the same data, mask and options twice: the repeat is a source with a problem (reported
as failed, not trained), not a second training of the same model whose pairs go into the dataset twice (breaker
16's open finding); the same data with other options (an ablation) is a source of its own."""

from __future__ import annotations

import json

from helpers import TINY, write_scene

from osmis_core.batch import RunFinished, run_batch
from osmis_core.batch.sources import list_sources
from osmis_core.config import build_config


def test_a_repeated_source_is_a_problem_and_an_ablation_is_not(tmp_path):
    scene = write_scene(tmp_path)
    image, mask = scene / "image" / "00000.png", scene / "mask" / "00000.png"
    (tmp_path / "list.csv").write_text(
        f"data,mask,iters\n{image},{mask},\n{image},{mask},\n{image},{mask},5\n{image},,\n", encoding="utf-8"
    )
    sources = list_sources(tmp_path / "list.csv")
    assert [s.name for s in sources] == ["00000", "00000-2", "00000-3", "00000-4"]
    # the last row gives no mask, but find_source finds the image's own mask in ../mask: the same training
    assert [s.problem is None for s in sources] == [True, False, True, False]
    assert sources[1].problem == (
        f"{image.resolve()}: listed again with the same mask and options as the source '00000'; it would train the "
        "same model twice (give other options, or list it once)."
    )


def test_an_override_equal_to_the_batchs_own_value_is_a_repeat(tmp_path, local_ray):
    """Breaker 18's open item: `{"iters": 2}` in a batch of 2 iterations trains the same model as the entry without
    it, so it is a repeat (sources are compared with the batch's values applied, not as written)."""
    scene = write_scene(tmp_path)
    entry = {"data": str(scene / "image" / "00000.png"), "mask": str(scene / "mask" / "00000.png")}
    listed = [entry, {**entry, "options": {"iters": 2}}, {**entry, "options": {"iters": 3}}]
    (tmp_path / "list.json").write_text(json.dumps(listed), encoding="utf-8")
    assert [s.problem is None for s in list_sources(tmp_path / "list.json")] == [True, True, True]
    config = build_config(None, None, {**TINY, "iters": 2})
    events = list(run_batch(tmp_path / "list.json", config, tmp_path / "batch", n_per_source=1, num_cpus=2))
    finished = {e.name: e for e in events if isinstance(e, RunFinished)}
    assert {k: e.status for k, e in finished.items()} == {
        "00000": "finished",
        "00000-2": "failed",
        "00000-3": "finished",
    }
    assert "listed again with the same mask and options as the source '00000'" in finished["00000-2"].message
    assert not (tmp_path / "batch" / "runs" / "00000-2").exists()
