"""A batch list that gives the same data, mask and options twice: the repeat is a source with a problem (reported
as failed, not trained), not a second training of the same model whose pairs go into the dataset twice (breaker
16's open finding); the same data with other options (an ablation) is a source of its own."""

from __future__ import annotations

from helpers import write_scene

from osmis_core.batch.sources import list_sources


def test_a_repeated_source_is_a_problem_and_an_ablation_is_not(tmp_path):
    scene = write_scene(tmp_path)
    image, mask = scene / "image" / "00000.png", scene / "mask" / "00000.png"
    (tmp_path / "list.csv").write_text(
        f"data,mask,iters\n{image},{mask},\n{image},{mask},\n{image},{mask},5\n{image},,\n", encoding="utf-8"
    )
    sources = list_sources(tmp_path / "list.csv")
    assert [s.name for s in sources] == ["00000", "00000-2", "00000-3", "00000-4"]
    assert [s.problem is None for s in sources] == [True, False, True, True]
    assert sources[1].problem == (
        f"{image.resolve()}: listed again with the same mask and options as the source '00000'; it would train the "
        "same model twice (give other options, or list it once)."
    )
