"""Breaker session 20 (the LeCam regulariser, batch repeats, breaker 19's refusals): one small test per finding
(tiny settings, CPU)."""

from __future__ import annotations

from pathlib import Path

from helpers import write_scene

from osmis_core.batch.sources import list_sources


def test_the_same_data_written_two_ways_is_a_repeat(tmp_path):
    """A DATA folder listed again with its own mask/ given as its mask trains on the same frames and masks: a repeat
    (the batch compares the files find_source trains on, not the paths as written); the frames folder without
    its masks is other data and trains."""
    scene = write_scene(tmp_path)
    (tmp_path / "list.csv").write_text(
        f"data,mask\n{scene},\n{scene}/,{scene / 'mask'}\n{scene / 'image'},\n", encoding="utf-8"
    )
    sources = list_sources(tmp_path / "list.csv")
    assert [s.problem is None for s in sources] == [True, False, True]
    assert "listed again with the same mask and options as the source" in sources[1].problem


def test_a_video_folder_and_its_video_file_are_one_source(tmp_path):
    """`example_video` (a folder with one video and mask/) and `example_video/clip.mp4` (whose masks are found in
    the same mask/) train the same model: the second is a repeat."""
    video = Path(__file__).resolve().parent.parent / "datasets" / "example_video"
    (tmp_path / "list.csv").write_text(f"data\n{video}\n{video / 'clip.mp4'}\n", encoding="utf-8")
    assert [s.problem is None for s in list_sources(tmp_path / "list.csv")] == [True, False]
