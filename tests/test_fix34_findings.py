"""Findings of the new-user tester of session 33, fixed on branch fix34: one small test each (tiny settings, CPU)."""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from helpers import folder_bytes, osmis_cli

from osmis_core.application.gallery import write_index_html
from osmis_core.application.runfolder import output_place_problem
from osmis_core.config import OsmisConfig, build_config
from osmis_core.errors import ConfigError, OsmisError


def _one_sentence(res, *words) -> str:
    """The stderr of a refused command: exit 2, one line, naming each of `words`."""
    err = res.stderr.strip()
    assert res.returncode == 2, (res.returncode, err)
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for word in words:
        assert str(word) in err, (word, err)
    return err


def _gallery(capsys, run: Path, name: str = "g") -> Path:
    out = run / "galleries" / name
    res = osmis_cli(capsys, "generate", run, "--n", "2", "--device", "cpu", "--out", out)
    assert res.returncode == 0, res.stderr
    return out


# -- 1. an output inside a run's own files or inside a gallery ------------------------------------------------------


@pytest.mark.parametrize("inner", ["checkpoints/x", "samples/x", "tensorboard/x", "walks/g", "galleries"])
def test_generate_into_a_runs_own_files_is_refused_and_writes_nothing(two_iteration_copy, capsys, inner):
    """`osmis generate RUN --out RUN/checkpoints/x` (or samples/, tensorboard/, walks/, or RUN/galleries itself)
    wrote a gallery among the run's own files; it is refused in one sentence naming the folder, nothing written.
    RUN/galleries/NAME stays the place of a gallery."""
    run = two_iteration_copy
    before = folder_bytes(run)
    res = osmis_cli(capsys, "generate", run, "--n", "2", "--device", "cpu", "--out", run / inner)
    own = run / inner.split("/")[0]
    _one_sentence(res, own, "the run's own files")
    assert folder_bytes(run) == before
    assert (_gallery(capsys, run) / "manifest.json").is_file()


def test_generate_into_another_runs_checkpoints_is_refused(two_iteration_copy, tmp_path, capsys):
    """The rule holds for any run, not only the one read: a gallery of run A in run B's samples/ is refused."""
    import shutil

    other = Path(shutil.copytree(two_iteration_copy, tmp_path / "other"))
    before = folder_bytes(other)
    res = osmis_cli(capsys, "generate", two_iteration_copy, "--n", "2", "--device", "cpu", "--out", other / "samples/x")
    _one_sentence(res, other / "samples")
    assert folder_bytes(other) == before


@pytest.mark.parametrize("inner", ["checkpoints/w.mp4", "samples/w.mp4", "galleries/w.mp4"])
def test_animate_into_a_runs_own_files_is_refused(two_iteration_copy, capsys, inner):
    """`osmis animate RUN --out RUN/checkpoints/w.mp4` was accepted; a walk goes in RUN/walks (or outside the run),
    and nothing is written elsewhere in the run."""
    run = two_iteration_copy
    before = folder_bytes(run)
    res = osmis_cli(capsys, "animate", run, "--frames", "2", "--device", "cpu", "--out", run / inner)
    _one_sentence(res, run / inner.split("/")[0], run / "walks")
    assert folder_bytes(run) == before
    res = osmis_cli(capsys, "animate", run, "--frames", "2", "--device", "cpu", "--out", run / "walks" / "w.mp4")
    assert res.returncode == 0 and (run / "walks" / "w.mp4").stat().st_size > 0, res.stderr


def test_an_export_inside_the_gallery_it_reads_is_refused(two_iteration_copy, capsys):
    """`osmis export GALLERY --out GALLERY/sub` was accepted (the gallery then held a folder not its own, and could
    no longer be replaced); so was a render --from a gallery into it. Refused, nothing written; the other way round
    (the gallery inside the output) stays refused, and an export beside the gallery is made."""
    run = two_iteration_copy
    gallery = _gallery(capsys, run)
    before = folder_bytes(run)
    res = osmis_cli(capsys, "export", gallery, "--select", "0", "--out", gallery / "sub")
    _one_sentence(res, f"is inside the gallery {gallery}")
    res = osmis_cli(capsys, "export", gallery, "--select", "0", "--out", gallery / "images" / "sub")
    _one_sentence(res, f"is inside the gallery {gallery}")
    res = osmis_cli(capsys, "export", gallery, "--select", "0", "--out", run / "galleries")
    _one_sentence(res, gallery)
    assert folder_bytes(run) == before
    res = osmis_cli(capsys, "export", gallery, "--select", "0", "--out", run / "galleries" / "picked")
    assert res.returncode == 0 and (run / "galleries" / "picked" / "manifest.json").is_file(), res.stderr


def test_render_into_a_renderer_runs_samples_or_a_gallery_is_refused(tiny_renderer_run, capsys):
    """`osmis render` follows the same rule: not into the run's samples/, not inside a gallery (its --from's)."""
    run, _ = tiny_renderer_run
    res = osmis_cli(capsys, "render", run, "--n", "1", "--out", run / "galleries" / "r")
    assert res.returncode == 0, res.stderr
    before = folder_bytes(run)
    res = osmis_cli(capsys, "render", run, "--n", "1", "--out", run / "samples" / "r")
    _one_sentence(res, run / "samples")
    res = osmis_cli(capsys, "render", run, "--n", "1", "--out", run / "galleries" / "r" / "more")
    _one_sentence(res, f"is inside the gallery {run / 'galleries' / 'r'}")
    assert folder_bytes(run) == before


def test_the_rule_is_one_engine_call_for_files_runs_and_batches(two_iteration_copy, scene, capsys):
    """The app's saved layout and options file, bench's --json-out, a new run and a batch ask the same rule
    (runfolder.output_place_problem): a file among the checkpoints, a run or a batch inside a gallery are refused."""
    from osmis_core.application.render import save_layout
    from osmis_core.application.session import start_training
    from osmis_core.batch import run_batch

    run = two_iteration_copy
    gallery = _gallery(capsys, run)
    assert output_place_problem(run / "galleries" / "x", "gallery") is None
    assert output_place_problem(run / "walks" / "x.mp4", "walk") is None
    assert output_place_problem(run / "layout.png", "file") is None
    for path, makes in ((run / "walks" / "g", "gallery"), (run / "galleries" / "w.mp4", "walk")):
        assert output_place_problem(path, makes).startswith("is inside "), path
    before = folder_bytes(run)
    with pytest.raises(OsmisError, match="checkpoints, a folder of the run's own files"):
        save_layout(np.zeros((4, 4), np.uint8), run / "checkpoints" / "layout.png")
    res = osmis_cli(capsys, "bench", scene, "--json-out", run / "samples" / "b.json", "--iters", "1")
    _one_sentence(res, run / "samples", "--json-out")
    assert folder_bytes(run) == before
    picked = run.parent / "picked"  # a gallery outside any run
    assert osmis_cli(capsys, "export", gallery, "--select", "0", "--out", picked).returncode == 0
    before = folder_bytes(picked)
    with pytest.raises(ConfigError, match=f"is inside the gallery {picked}"):
        start_training(OsmisConfig(), scene, picked / "run")
    with pytest.raises(ConfigError, match=f"is inside the gallery {picked}"):
        next(iter(run_batch(scene, OsmisConfig(), picked / "images" / "batch")))
    assert (
        folder_bytes(picked) == before and not (picked / "run").exists() and not (picked / "images" / "batch").exists()
    )


# -- 2. a loop of links (or any link) as an output file --------------------------------------------------------------


def _loop(tmp_path: Path, suffix: str) -> Path:
    a, b = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    a.symlink_to(b)
    b.symlink_to(a)
    return a


def test_animate_out_a_loop_of_links_is_refused_and_the_links_stay(two_iteration_copy, tmp_path, capsys):
    """`osmis animate RUN --out LOOP` (a -> b, b -> a) replaced the link by the video and exited 0; a link to a file
    replaced the link too, leaving the file it points to as it was. Both are refused in one sentence."""
    loop = _loop(tmp_path, ".mp4")
    res = osmis_cli(capsys, "animate", two_iteration_copy, "--frames", "2", "--device", "cpu", "--out", loop)
    _one_sentence(res, "link to nothing or a loop of links")
    assert loop.is_symlink() and os.readlink(loop) == str(tmp_path / "b.mp4")
    target = tmp_path / "old.mp4"
    target.write_bytes(b"old")
    (tmp_path / "link.mp4").symlink_to(target)
    res = osmis_cli(capsys, "animate", two_iteration_copy, "--frames", "2", "--out", tmp_path / "link.mp4")
    _one_sentence(res, "is a symbolic link")
    assert (tmp_path / "link.mp4").is_symlink() and target.read_bytes() == b"old"


def test_every_single_file_output_refuses_a_loop_of_links(scene, tmp_path, capsys):
    """The same check (files.output_file_problem) for the other single files written: bench's --json-out, a saved
    layout, a saved options file."""
    from osmis_core.application.render import save_layout
    from osmis_core.config import save_config_file

    res = osmis_cli(capsys, "bench", scene, "--json-out", _loop(tmp_path, ".json"), "--iters", "1")
    _one_sentence(res, "--json-out", "loop of links")
    with pytest.raises(OsmisError, match="loop of links"):
        save_layout(np.zeros((4, 4), np.uint8), _loop(tmp_path, ".png"))
    with pytest.raises(ConfigError, match="loop of links"):
        save_config_file(OsmisConfig(), _loop(tmp_path, ".cfg"))
    assert sorted(p.name for p in tmp_path.iterdir() if not p.is_symlink()) == ["scene"]


# -- 3. argparse's errors in one line -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "DATA", "--iters", "abc"],
        ["train", "DATA", "--bogus"],
        ["train"],
        ["generate", "RUN", "--n", "1.5"],
        ["generate", "RUN", "--no-such-flag", "1"],
        ["animate", "RUN"],
        ["export", "G", "--select"],
        ["evaluate", "G", "--miou-setting", "huge"],
        ["render"],
        ["batch", "S", "--out", "B", "--retries", "x"],
    ],
)
def test_a_parsing_error_is_one_line_naming_the_command_and_its_help(capsys, argv):
    """A bad value, an unknown flag or a missing argument printed argparse's usage block (~45 lines) before the
    sentence; it is one line, `osmis CMD: error: ... (osmis CMD --help lists the options)`, exit 2."""
    res = osmis_cli(capsys, *argv)
    err = _one_sentence(res)
    assert err.startswith(f"osmis {argv[0]}: error: "), err
    assert err.endswith(f"(osmis {argv[0]} --help lists the options)"), err
    assert "usage:" not in err and res.stdout == ""


def test_a_parsing_error_of_the_command_itself_is_one_line(capsys):
    for argv in ([], ["trian"]):
        err = _one_sentence(osmis_cli(capsys, *argv))
        assert err.startswith("osmis: error: ") and err.endswith("(osmis --help lists the commands)"), err


# -- 4. a file where a folder is read --------------------------------------------------------------------------------


def test_a_file_given_for_a_gallery_or_a_folder_of_layouts_is_called_a_file(tmp_path, capsys):
    """`osmis evaluate FILE` said "no such gallery folder" of a file that is there; it says the path is a file (with
    --real too). The other commands that read a folder say so already (checked together); a missing one is still
    "no such"."""
    file = tmp_path / "picture.png"
    file.write_bytes(b"x")
    for argv in (["evaluate", file], ["evaluate", file, "--real", file]):
        _one_sentence(osmis_cli(capsys, *argv), f"{file}: is a file, not a gallery folder.")
    expected = {
        ("generate", file): "a file, not a run folder",
        ("animate", file, "--out", tmp_path / "w.mp4"): "a file, not a run folder",
        ("export", file, "--select", "0", "--out", tmp_path / "e"): "is a file, not a gallery folder",
        ("train", file, "--resume"): "a file, not a run folder to resume",
        ("render", file): "a file, not a run folder",
        ("render", tmp_path, "--from", file): "is a file, not a gallery folder",
        ("render", tmp_path, "--layouts", file): "is a file, not a folder of layouts",
    }
    for argv, words in expected.items():
        _one_sentence(osmis_cli(capsys, *argv), f"{file}: {words}")
    _one_sentence(osmis_cli(capsys, "evaluate", tmp_path / "gone"), f"{tmp_path / 'gone'}: no such gallery folder.")
    loop = _loop(tmp_path, "")
    _one_sentence(osmis_cli(capsys, "evaluate", loop), f"{loop}: is a link to nothing or a loop of links")


# -- 5. a learning rate of 0 --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-0", "0.0", "-0.0"])
def test_a_learning_rate_of_zero_is_refused_in_one_sentence(tmp_path, capsys, value):
    """--lr-g 0 (and -0) was taken: a training that learns nothing. The minimum is exclusive (config._opt's
    above_minimum), for the flag, the config file, a library call and a stored run.json alike."""
    for flag in ("--lr-g", "--lr-d"):
        res = osmis_cli(capsys, "train", tmp_path / "none.png", f"{flag}={value}", "--out", tmp_path / "r")
        _one_sentence(res, f"error: {flag} must be above 0")
    assert not (tmp_path / "r").exists()
    with pytest.raises(ConfigError, match="--lr-d must be above 0"):
        build_config(overrides={"lr_d": float(value)})
    stored = tmp_path / "c.json"
    stored.write_text(json.dumps({"lr_g": float(value)}))
    with pytest.raises(ConfigError, match="lr_g.* must be above 0"):
        build_config(config_file=stored)
    assert build_config(overrides={"lr_g": 1e-9}).optimisation.lr_g == 1e-9


def test_weights_of_zero_stay_allowed():
    """Options whose 0 turns something off keep 0 (lambda_dr, r1_gamma, lecam_weight, p_aug)."""
    config = build_config(overrides={"lambda_dr": 0.0, "r1_gamma": 0.0, "lecam_weight": 0.0, "p_aug": 0.0})
    assert config.regularisation.lambda_dr == 0.0 and config.regularisation.r1_gamma == 0.0


# -- 6. the gallery page ------------------------------------------------------------------------------------------


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.figures: list[dict] = []
        self.buttons: list[str] = []
        self.captions: list[str] = []
        self.cells: list[str] = []
        self._in = None

    def handle_starttag(self, tag, attrs):
        if tag == "figure":
            self.figures.append(dict(attrs))
        elif tag == "button":
            self.buttons.append(dict(attrs)["onclick"])
        self._in = tag

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "figcaption":
            self.captions.append(data)
        elif self._in in ("th", "td"):
            self.cells.append(data)


def test_the_gallery_page_shows_scores_of_any_name_as_text_and_a_missing_one_as_missing(tmp_path):
    """Per-image scores named otherwise than a plain lower-case word (a hand-edited or another tool's metrics.json)
    are shown, as text, in every caption, while only plain names become data attributes and sort buttons (breaker
    32's fix holds); a score that is null in the summary, or that an item lacks, reads "missing", not "not a
    number"."""
    hostile = "x onmouseover=alert(1) y"
    manifest = {
        "run": "r",
        "seed": 0,
        "checkpoint_step": 2,
        "items": [{"index": 0, "image": "images/0.png"}, {"index": 1, "image": "images/1.png"}],
    }
    metrics = {
        "summary": {"sifid_64": None, "LPIPS (mean)": 0.25},
        "per_image": [
            {"index": 0, "My Score": 0.5, "sifid_64": 0.125, "é-ü": 0.75, hostile: 1.5},
            {"index": 1, "My Score": None, "sifid_64": 0.25},
        ],
    }
    page = _Page()
    page.feed(write_index_html(tmp_path, manifest, metrics).read_text(encoding="utf-8"))
    assert page.captions == [
        f"#0 My Score 0.5 · sifid_64 0.125 · {hostile} 1.5 · é-ü 0.75",
        f"#1 My Score missing · sifid_64 0.25 · {hostile} missing · é-ü missing",
    ], page.captions
    assert [set(f) for f in page.figures] == [{"data-index", "data-sifid-64"}] * 2
    assert page.buttons == ["sortBy('index', 1)", "sortBy('sifid-64', 1)", "sortBy('sifid-64', -1)"]
    assert page.cells == ["sifid_64", "missing", "LPIPS (mean)", "0.25"], page.cells
