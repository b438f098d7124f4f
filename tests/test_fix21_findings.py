"""Findings left open by earlier testers, fixed on branch fix21: one small test each (tiny settings, CPU)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import osmis_cli


def _set_model(run: Path, model: str) -> None:
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    info["config"]["renderer"]["model"] = model
    (run / "run.json").write_text(json.dumps(info), encoding="utf-8")


@pytest.mark.parametrize("command", [["generate", "--n", "1"], ["render", "--n", "1"], ["train", "--resume"]])
def test_run_json_naming_another_model_than_the_checkpoints_is_refused_in_one_sentence(trained, capsys, command):
    """An OSMIS run whose run.json was edited to "model": "renderer": generate, render and resume refuse naming
    run.json and both models (exit 2), not a traceback or a sentence blaming the checkpoint."""
    _set_model(trained, "renderer")
    r = osmis_cli(capsys, command[0], trained, *command[1:], "--device", "cpu")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "run.json" in lines[0], r.stderr
    assert '"model": "renderer"' in lines[0] and '"model": "osmis"' in lines[0], r.stderr


def test_a_renderer_run_json_edited_to_osmis_is_refused_too(tiny_renderer_run, tmp_path, capsys):
    run = Path(shutil.copytree(tiny_renderer_run[0], tmp_path / "run"))
    _set_model(run, "osmis")
    for command in (["generate", "--n", "1"], ["render", "--n", "1"]):
        r = osmis_cli(capsys, command[0], run, *command[1:], "--device", "cpu")
        assert r.returncode == 2 and '"model": "osmis"' in r.stderr and '"model": "renderer"' in r.stderr, r.stderr


MISSING = "looks like a run folder whose run.json is missing"


@pytest.mark.parametrize(
    "command",
    [["train", "--iters", "3"], ["run", "--iters", "3", "--n", "1"], ["generate", "--n", "1"], ["inspect"]],
)
def test_a_run_folder_without_its_run_json_is_named_as_one(trained, capsys, command):
    """A run folder whose run.json was deleted (checkpoints/, samples/, stats.jsonl remain) is not "a folder that
    holds no images" nor just "not a run folder": one sentence names the folder and the missing run.json."""
    (trained / "run.json").unlink()
    quiet = ["--quiet"] if command[0] in ("train", "run") else []
    r = osmis_cli(capsys, command[0], trained, *command[1:], *quiet)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(trained) in lines[0] and MISSING in lines[0], r.stderr


@pytest.mark.parametrize("protected", ["mask", "run.json"])
def test_save_layout_refuses_another_name_of_a_protected_file(tiny_renderer_run, tmp_path, protected):
    """Save layout compares files by identity, not only by resolved path: a hard link (another name of the same
    file, as a case-variant name is on macOS and Windows) to the training mask or run.json is refused, and the
    file stays as it was."""
    import numpy as np

    from osmis_core.application.render import save_layout
    from osmis_core.errors import DataError

    run, mask = tiny_renderer_run
    original = mask if protected == "mask" else run / "run.json"
    link = tmp_path / "other_name.png"
    link.hardlink_to(original)
    before = original.read_bytes()
    with pytest.raises(DataError, match="is among the run's (training data|own files)"):
        save_layout(np.zeros((8, 8), np.uint8), link, run)
    assert original.read_bytes() == before


def test_a_batch_row_turning_lecam_off_names_the_batchs_lecam_decay():
    """A batch row `lecam_weight 0` under the batch's --lecam-weight 0.1 --lecam-decay 0.9 is refused (as a config
    file's option made ineffective by a flag is), naming the batch's --lecam-decay as the option without effect and
    the row's lecam_weight, not as if the row had given lecam_decay; a row keeping LeCam on trains."""
    from osmis_core.batch.sources import source_config
    from osmis_core.config import build_config
    from osmis_core.errors import ConfigError

    config = build_config(None, None, {"lecam_weight": 0.1, "lecam_decay": 0.9})
    typed = {"lecam_weight", "lecam_decay"}
    with pytest.raises(ConfigError) as refused:
        source_config(config, {"lecam_weight": 0.0}, typed)
    message = str(refused.value)
    assert message.startswith("the batch's --lecam-decay ") and "option 'lecam_weight' = 0" in message, message
    assert "option 'lecam_decay'" not in message
    assert source_config(config, {"lecam_weight": 0.2}, typed).regularisation.lecam_weight == 0.2


def test_batch_entries_differing_only_in_tensorboard_are_a_repeat(tmp_path):
    """tensorboard changes no model (config.OUTPUT_ONLY_OPTIONS), so an entry that differs from another only in it
    would train the same model twice and put the same pairs into the dataset twice: a repeat, whose sentence says
    why. log_every is not such an option (the health checks run at its ticks and may stop or roll back a run):
    entries differing in it both train."""
    from helpers import write_scene

    from osmis_core.batch.sources import list_sources, source_config
    from osmis_core.config import OUTPUT_ONLY_OPTIONS, OsmisConfig

    assert OUTPUT_ONLY_OPTIONS == {"tensorboard"}
    scene = write_scene(tmp_path)
    entry = {"data": str(scene / "image" / "00000.png"), "mask": str(scene / "mask" / "00000.png")}
    listed = [entry, {**entry, "options": {"tensorboard": True}}, {**entry, "options": {"log_every": 5}}]
    (tmp_path / "list.json").write_text(json.dumps(listed), encoding="utf-8")
    for resolve in (None, lambda o: source_config(OsmisConfig(), o).flat()):
        sources = list_sources(tmp_path / "list.json", resolve)
        assert [s.problem is None for s in sources] == [True, False, True]
        assert "(tensorboard changes only what the run writes besides the model)" in sources[1].problem


def test_a_gallery_stream_closed_between_events_leaves_nothing(trained, tiny_renderer_run, tmp_path):
    """The engine's gallery streams (what the app's generate and render jobs iterate) stop when closed between
    events, after a batch of samples or a photo: the staging folder goes and the gallery folder is not made."""
    from osmis_core.application.gallery import gallery_events, generate_gallery
    from osmis_core.application.render import render_gallery_events, render_gallery_masks_events
    from osmis_core.events import SamplesWritten

    osmis_gallery = generate_gallery(trained, tmp_path / "g", n=2, device="cpu")
    renderer = tiny_renderer_run[0]
    for i, start in enumerate(
        [
            lambda out: gallery_events(trained, out, n=6, batch_size=1, device="cpu"),
            lambda out: render_gallery_events(renderer, None, out, n=3),
            lambda out: render_gallery_masks_events(renderer, osmis_gallery, out_dir=out),
        ]
    ):
        parent = tmp_path / f"out{i}"
        parent.mkdir()
        stream = start(parent / "gallery")
        next(e for e in stream if isinstance(e, SamplesWritten))
        assert any(parent.iterdir())  # its staging folder, being written
        stream.close()
        assert not any(parent.iterdir())
