"""Breaker session 20 (the LeCam regulariser, batch repeats, breaker 19's refusals): one small test per finding
(tiny settings, CPU).

Found and fixed:
- batch repeats compared data paths as written: a DATA folder listed again with its own mask/ given as --mask, or
  a video folder and its video file, trained the same model twice; the files find_source trains on are compared.
- a CSV cell "-0" (lecam_weight, r1_gamma) trained the model of the row without it again (JSON writes -0.0 apart).
- a CSV cell p_aug "adaptive" refused the whole list, where the flag and a JSON list take the word.
- run.json recorded the data source's frames and masks relative to the folder training started in: the Paint
  page's training layouts (and Save layout's / animate's protection of the masks) failed from another folder.
- a video's mask folder was not the run's training data: a layout saved there joins the video's masks.
- a link to a gallery opened in `osmis gui` was opened as training data, not as its run.
- `osmis train RUN --resume --lecam-decay 0.99` (or --r1-every) of a run without LeCam (R1) advised "give the run's
  option 'lecam_weight' above 0", which a resume refuses.
- `osmis run --resume --two-stage --lecam-decay D` of a run with LeCam said "--lecam-weight = 0 turns it off".

Tried and right: --lecam-weight nan/inf/-1/1e400/abc/" 1"/1e-300/0, --lecam-decay 0/1/1.0/-0.1/nan/inf (refused in
one sentence, exit 2) and 0.9999999999999999; the same in JSON and TOML config files (a string, true, null, NaN,
1e999 refused; -0 accepted as 0); LeCam refused for --model renderer (flag and config file); a run without masks
(example_texture) logs d_lecam; d_lecam in stats.jsonl, in TensorBoard (loss/d_lecam) and run.json records
lecam_weight/lecam_decay; resume without the flags keeps LeCam, resume changing --lecam-weight is refused, giving
the run's own value is accepted; `osmis run --two-stage --lecam-weight` keeps the renderer at 0; a Ray batch
(--preset quick, tiny flags) reported as repeats: on_collapse equal to the preset's, lecam_weight 0.0 vs none,
1e-4 vs 0.0001, iters equal to --iters, lecam_decay equal to its default, the data folder with a trailing slash
and with its own mask/; 0 and 1e-4 trained; animate --out over the training video (also from another folder),
a non-video name, the run folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import TINY, osmis_cli, two_iteration_run, write_scene

from osmis_core.application.render import training_layouts
from osmis_core.application.runfolder import enclosing_run, recorded_source, run_reads
from osmis_core.application.session import start_training
from osmis_core.batch.sources import list_sources, mark_repeats
from osmis_core.config import OsmisConfig


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


def test_a_run_trained_on_a_relative_path_finds_its_masks_from_another_folder(tmp_path, monkeypatch):
    """run.json recorded the data source's frames and masks as typed (relative to the folder training started
    in): the Paint page's training layouts, opened from another folder, said "vid/mask/00000.png: the run's
    training mask is not there any more", and Save layout did not protect the masks. They are recorded absolute
    now."""
    write_scene(tmp_path)
    monkeypatch.chdir(tmp_path)
    run = two_iteration_run("scene", tmp_path / "run")
    monkeypatch.chdir(tmp_path / "run")
    assert len(training_layouts(run)) == 1
    assert run_reads(run, tmp_path / "scene" / "mask" / "00000.png") == "the run's training data"


def test_an_earlier_runs_relative_video_masks_are_protected_from_another_folder(tmp_path, monkeypatch):
    """A video run of an earlier version recorded 'vid/clip.mp4' and 'vid/mask/00000.png'; read from another
    folder they are found from run.json's absolute data path. A video's masks are every image of their folder, so
    a new file there (a layout saved as vid/mask/00099.png) would join them: it is the run's training data too."""
    (tmp_path / "vid" / "mask").mkdir(parents=True)
    (tmp_path / "vid" / "clip.mp4").write_bytes(b"")
    (tmp_path / "vid" / "mask" / "00000.png").write_bytes(b"")
    source = {"kind": "video", "path": "vid/clip.mp4", "masks": ["vid/mask/00000.png"], "video": "vid/clip.mp4"}
    (tmp_path / "run").mkdir()
    data = {"path": str(tmp_path / "vid" / "clip.mp4"), "mask_path": None, "source": source}
    (tmp_path / "run" / "run.json").write_text(json.dumps({"data": data}), encoding="utf-8")
    monkeypatch.chdir(tmp_path / "run")
    assert recorded_source(data)["masks"] == [str(tmp_path.resolve() / "vid" / "mask" / "00000.png")]
    for name in ("00000.png", "00099.png"):
        assert run_reads(tmp_path / "run", tmp_path / "vid" / "mask" / name) == "the run's training data"
    assert run_reads(tmp_path / "run", tmp_path / "vid" / "layout.png") is None


def test_a_link_to_a_gallery_finds_its_run(tmp_path):
    """`osmis gui LINK` (LINK -> RUN/galleries/G, a gallery linked onto the desktop) opened the gallery's pictures
    as training data: the link's own parents hold no run.json. Where it points is looked at too."""
    gallery = tmp_path / "run" / "galleries" / "g"
    gallery.mkdir(parents=True)
    (tmp_path / "run" / "run.json").write_text("{}", encoding="utf-8")
    (tmp_path / "desktop").mkdir()
    (tmp_path / "desktop" / "g").symlink_to(gallery, target_is_directory=True)
    assert enclosing_run(tmp_path / "desktop" / "g") == (tmp_path / "run").resolve()
    assert enclosing_run(tmp_path / "desktop") is None


@pytest.mark.parametrize(
    ("flag", "off"), [("--lecam-decay", "lecam_weight"), ("--r1-every", "r1_gamma")], ids=["lecam", "r1"]
)
def test_a_resume_does_not_advise_turning_on_what_cannot_change(tmp_path, capsys, flag, off):
    """`osmis train RUN --resume --lecam-decay 0.99` of a run without LeCam said "give the run's option
    'lecam_weight' above 0", which a resume then refuses (it cannot change on resume); it says to leave the flag
    out."""
    run = two_iteration_run(write_scene(tmp_path), tmp_path / "run")
    value = "0.99" if off == "lecam_weight" else "16"
    result = osmis_cli(capsys, "train", str(run), "--resume", flag, value, "--iters", "3", "--device", "cpu")
    assert result.returncode == 2
    assert f"the run's option '{off}' = 0" in result.stderr
    assert "above 0" not in result.stderr and f"leave {flag} out." in result.stderr


def test_a_csv_cell_may_be_an_options_word(tmp_path):
    """`p_aug` = `adaptive` in a CSV list refused the whole list ("must be of type float, got 'adaptive'") where
    the flag --p-aug adaptive and a JSON list take it; it is adaptive augmentation, and a row with ada true is its
    repeat."""
    scene = write_scene(tmp_path)
    (tmp_path / "list.csv").write_text(f"data,p_aug,ada\n{scene},adaptive,\n{scene},,true\n", encoding="utf-8")
    sources = mark_repeats(list_sources(tmp_path / "list.csv"), lambda o: OsmisConfig().replace(**o).to_dict())
    assert sources[0].options == {"p_aug": "adaptive"}
    assert [s.problem is None for s in sources] == [True, False]


def test_minus_zero_is_zeros_repeat(tmp_path):
    """A row with lecam_weight "-0" (or r1_gamma "-0.0") trains the model of the row without it, but JSON writes
    -0.0 apart from 0.0, so it trained again: it is a repeat."""
    scene = write_scene(tmp_path)
    (tmp_path / "list.csv").write_text(
        f"data,lecam_weight,r1_gamma\n{scene},,\n{scene},-0,\n{scene},0,-0.0\n", encoding="utf-8"
    )
    sources = mark_repeats(list_sources(tmp_path / "list.csv"), lambda o: OsmisConfig().replace(**o).to_dict())
    assert [s.problem is None for s in sources] == [True, False, False]


def test_a_two_stage_resume_reads_the_runs_lecam_weight(tmp_path, capsys):
    """`osmis run DATA --out RUN --resume --two-stage --lecam-decay D` of a run with LeCam checked the flags as a
    new run's ("--lecam-weight = 0 turns it off", a weight never typed): the run's own options are read, and a
    decay other than the run's is refused as a change a resume cannot make."""
    scene = write_scene(tmp_path)
    config = OsmisConfig().replace(**{**TINY, "iters": 2, "eval_every": 0, "keep_best": "none", "lecam_weight": 0.1})
    for _ in start_training(config, scene, tmp_path / "run").run():
        pass
    flags = ["--n", "2", "--quiet", "--random-weights", "--metrics", "diversity", "--iters", "4", "--device", "cpu"]
    args = ["run", scene, "--out", tmp_path / "run", "--resume", "--two-stage", "--lecam-decay", "0.9", *flags]
    result = osmis_cli(capsys, *args)
    assert result.returncode == 2
    assert "lecam_decay = 0.99, asked --lecam-decay 0.9" in result.stderr and "turns it off" not in result.stderr
