"""Findings left open by earlier sessions, fixed on branch fix24: one small test each (tiny settings, CPU)."""

from __future__ import annotations

import pytest
from helpers import TINY, folder_bytes, osmis_cli, run_job, tiny_flags, two_iteration_run

from osmis_core.application.runfolder import RunFolder, in_run_files
from osmis_core.application.session import start_training
from osmis_core.config import OsmisConfig
from osmis_core.errors import ConfigError


@pytest.mark.parametrize("inner", ["checkpoints", "samples/a/b", "galleries/g", "walks/w", "tensorboard/t"])
def test_a_new_run_in_a_folder_of_another_runs_own_files_is_refused(scene, tmp_path, capsys, inner):
    """`osmis run DATA --out RUN/<own folder>/...` (as `osmis train`'s, tests/test_newuser_session28.py) is refused
    in one sentence, at any depth below the run's own folders, nothing written: the rule is start_training's, so
    the app's and a batch's new runs keep it too."""
    run = two_iteration_run(scene, tmp_path / "run")
    before = folder_bytes(run)
    res = osmis_cli(capsys, *run_job(scene, run / inner))
    err = res.stderr.strip()
    assert res.returncode == 2, err
    assert len(err.splitlines()) == 1 and "--out" in err and str(run) in err, err
    assert folder_bytes(run) == before


def test_a_run_of_its_own_inside_a_run_folder_is_still_made(scene, tmp_path):
    """A run's other sub-folders are no folders of its own files: the two-stage job's renderer is a run of its own
    in RUN/renderer (the engine's call for it), and a run beside the own folders is too."""
    run = two_iteration_run(scene, tmp_path / "run")
    assert [in_run_files(p) for p in (run, run / "renderer", run / "renderer" / "x")] == [None, None, None]
    assert in_run_files(run / "checkpoints" / "x" / "y") == RunFolder(run).checkpoints
    renderer = OsmisConfig().replace(**{**TINY, "model": "renderer", "iters": 2, "eval_every": 0})
    start_training(renderer, scene, run / "renderer")  # a trainer at step 0: the folder is made
    assert (run / "renderer" / "run.json").is_file()
    with pytest.raises(ConfigError, match="a new run cannot go in .*renderer/checkpoints"):
        start_training(renderer, scene, run / "renderer" / "checkpoints" / "x")


def test_a_batch_into_a_folder_of_a_runs_own_files_is_refused_before_anything_is_made(scene, tmp_path):
    """Every source's run would be refused there: the batch is, before Ray starts and BATCH is made."""
    from osmis_core.batch import run_batch

    run = two_iteration_run(scene, tmp_path / "run")
    before = folder_bytes(run)
    config = OsmisConfig().replace(**{**TINY, "iters": 2})
    with pytest.raises(ConfigError, match="a batch's runs cannot go in .*galleries"):
        next(run_batch(scene, config, run / "galleries" / "b"))
    assert folder_bytes(run) == before and not (run / "galleries").exists()


def test_train_into_a_link_to_a_runs_checkpoints_is_refused(scene, tmp_path, capsys):
    """A link to a run's own folder is looked for where it points."""
    run = two_iteration_run(scene, tmp_path / "run")
    (tmp_path / "link").symlink_to(run / "samples", target_is_directory=True)
    before = folder_bytes(run)
    res = osmis_cli(capsys, "train", scene, "--out", tmp_path / "link" / "x", "--quiet", *tiny_flags(iters=2))
    assert res.returncode == 2, res.stderr
    assert folder_bytes(run) == before


def test_a_batch_stopped_before_any_run_finished_writes_no_dataset_and_its_resume_does(scene, tmp_path, local_ray):
    """A batch stopped (Ctrl-C / SIGTERM: control.request_stop) while its only run trains wrote an empty dataset/
    (0 pairs); it writes none (no DatasetWritten, BatchFinished.dataset None, the summary says so), and the batch
    resumed to its end writes it."""
    import json

    from osmis_core.batch import BatchControl, BatchFinished, DatasetWritten, RunProgress, run_batch

    config = OsmisConfig().replace(**{**TINY, "iters": 400, "eval_every": 0, "keep_best": "none"})
    control = BatchControl()
    events = []
    for event in run_batch(scene, config, tmp_path / "B", n_per_source=2, control=control):
        events.append(event)
        if isinstance(event, RunProgress):
            control.request_stop()
    [finished] = [e for e in events if isinstance(e, BatchFinished)]
    assert finished.stopped and finished.dataset is None
    assert not [e for e in events if isinstance(e, DatasetWritten)]
    assert not (tmp_path / "B" / "dataset").exists()
    assert json.loads((tmp_path / "B" / "summary.json").read_text())["batch"]["dataset_pairs"] is None
    assert "No merged dataset" in (tmp_path / "B" / "index.html").read_text()

    [run] = (tmp_path / "B" / "runs").iterdir()
    step = RunFolder(run).latest_step()
    events = list(run_batch(scene, config.replace(iters=step + 2), tmp_path / "B", n_per_source=2))
    assert [e.pairs for e in events if isinstance(e, DatasetWritten)] == [2]
    assert len(list((tmp_path / "B" / "dataset" / "images").glob("*.png"))) == 2
    assert 'href="dataset/dataset.json"' in (tmp_path / "B" / "index.html").read_text()


def test_a_batch_whose_every_source_failed_says_it_wrote_no_dataset(scene, tmp_path, local_ray, capsys):
    """The CLI's final line says there is no dataset when no run finished (here: the only image has no mask)."""
    (tmp_path / "src" / "image").mkdir(parents=True)
    (tmp_path / "src" / "mask").mkdir()
    (tmp_path / "src" / "image" / "lonely.png").write_bytes((scene / "image" / "00000.png").read_bytes())
    (tmp_path / "src" / "mask" / "other.png").write_bytes((scene / "mask" / "00000.png").read_bytes())
    res = osmis_cli(capsys, "batch", tmp_path / "src", "--out", tmp_path / "B", "--quiet", *tiny_flags(iters=2))
    last = res.stderr.strip().splitlines()[-1]
    assert res.returncode == 1, res.stderr
    assert "1 failed" in last and "no run finished, so no dataset" in last, last
    assert not (tmp_path / "B" / "dataset").exists()


def _wide_scene(root):
    """A 160x96 (5:3) scene: the model trains it at 96x64 (whole noise cells), another aspect ratio than its own."""
    from helpers import save_palette_mask, scene_arrays
    from PIL import Image

    img, ids = scene_arrays(w=160, h=96)
    (root / "image").mkdir(parents=True)
    (root / "mask").mkdir()
    Image.fromarray(img).save(root / "image" / "0.png")
    save_palette_mask(ids, root / "mask" / "0.png")
    return root


def test_evaluate_refuses_real_data_of_another_aspect_ratio_than_the_gallerys(tmp_path, capsys):
    """`osmis evaluate G --real DATA` stretched data of another aspect ratio over the gallery's pictures and scored
    it; it is refused in one sentence naming the data and both sizes (exit 2, nothing written), as a mask of another
    aspect ratio is for training. The run's own data is scored though the model sized it to 96x64, and so is it for
    a gallery without manifest (no run to ask: the model's sizing of the data at the gallery's size)."""
    from PIL import Image

    data = _wide_scene(tmp_path / "wide")
    run = two_iteration_run(data, tmp_path / "run")
    gallery, plain = tmp_path / "g", tmp_path / "plain"
    assert osmis_cli(capsys, "generate", run, "--n", "2", "--out", gallery).returncode == 0
    plain.mkdir()
    for p in (gallery / "images").iterdir():
        (plain / p.name).write_bytes(p.read_bytes())
    assert Image.open(next(plain.iterdir())).size == (96, 64)
    Image.new("RGB", (100, 100), "green").save(tmp_path / "square.png")
    scoring = ["--metrics", "diversity", "--random-weights", "--device", "cpu"]
    for g in (gallery, plain):
        before = folder_bytes(g)
        res = osmis_cli(capsys, "evaluate", g, "--real", tmp_path / "square.png", *scoring)
        err = res.stderr.strip().splitlines()[-1]
        assert res.returncode == 2, res.stderr
        assert err.startswith(f"error: {tmp_path / 'square.png'}: ") and "100x100" in err, err
        assert ("160x96" if g == gallery else "96x64") in err and "aspect ratio" in err, err
        assert folder_bytes(g) == before
        res = osmis_cli(capsys, "evaluate", g, "--real", data, *scoring)
        assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("length", [250, 300])
def test_generate_into_a_name_too_long_names_the_out_folder_and_writes_nothing(scene, tmp_path, capsys, length):
    """`osmis generate RUN --out NAME` with NAME past 255 bytes named NAME/manifest.json; one a few bytes short of it
    (its building folder .NAME.building-* beside it is past the limit) named NAME's parent as not writable, and left
    the parents it had made. The sentence names the --out folder; nothing is made."""
    run = two_iteration_run(scene, tmp_path / "run")
    out = tmp_path / "made" / ("g" * length)
    res = osmis_cli(capsys, "generate", run, "--n", "1", "--out", out)
    err = res.stderr.strip()
    assert res.returncode == 2, err
    assert err.splitlines()[-1].startswith(f"error: {out}: cannot be an output folder ("), err
    assert "manifest.json" not in err and not (tmp_path / "made").exists()


@pytest.mark.parametrize("command", ["train", "run"])
def test_a_run_folder_name_too_long_is_named_itself(scene, tmp_path, capsys, command):
    """`osmis run DATA --out NAME` past 255 bytes named NAME/run.json (train named NAME with the system's words
    only): both say NAME cannot be a run folder, and why, in one sentence."""
    out = tmp_path / ("r" * 300)
    argv = run_job(scene, out) if command == "run" else ["train", scene, "--out", out, *tiny_flags(iters=2)]
    res = osmis_cli(capsys, *argv)
    err = res.stderr.strip()
    assert res.returncode == 2, err
    assert err.splitlines()[-1] == f"error: {out}: cannot be a run folder (File name too long); give another --out.", (
        err
    )


def test_a_loop_of_links_as_the_out_of_train_or_animate_is_one_sentence(scene, tmp_path, capsys):
    """Path.resolve raises RuntimeError on a loop of symbolic links (Python 3.11): `osmis train DATA --out LOOP`
    and `osmis animate RUN --out LOOP/w.mp4` ended in that traceback (in_run_files, run_reads). Every path the
    engine resolves goes through files.resolved_path, and the sentence names the loop, not a file."""
    run = two_iteration_run(scene, tmp_path / "run")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    res = osmis_cli(capsys, "train", scene, "--out", loop / "x", "--quiet", *tiny_flags(iters=2))
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "loop" in res.stderr, res.stderr
    res = osmis_cli(capsys, "animate", run, "--frames", "2", "--out", loop / "w.mp4")
    err = res.stderr.strip()
    assert res.returncode == 2 and len(err.splitlines()) == 1, err
    assert "link to nothing or a loop of links" in err and "is a file" not in err, err
    assert not (run / "walks").exists() or not any((run / "walks").iterdir())


@pytest.mark.parametrize("kind", ["file", "link to nothing"])
def test_two_stage_refuses_a_renderer_place_that_is_no_folder_before_training(scene, tmp_path, capsys, kind):
    """Breaker 29: `osmis run --two-stage --out RUN` with a plain file named RUN/renderer trained OSMIS, then failed
    at the renderer stage. It is refused before any training, naming RUN/renderer."""
    out = tmp_path / "job"
    out.mkdir()
    place = out / "renderer"
    if kind == "file":
        place.write_text("not a run")
    else:
        place.symlink_to(tmp_path / "nowhere")
    res = osmis_cli(capsys, *run_job(scene, out, "--two-stage"))
    err = res.stderr.strip()
    assert res.returncode == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f"error: {place}: is no folder"), err
    assert not (out / "checkpoints").exists() or not any((out / "checkpoints").iterdir())


def test_a_resume_whose_layouts_from_run_has_gone_names_the_option_as_its_caller_does(scene, tmp_path, capsys):
    """Breaker 31 (open item, fixed after the merge): the app's "Continue run" of a renderer run whose --layouts-from
    OSMIS run has gone said "--layouts-from: …", a flag the app does not have; a resume names the option as its
    caller names the options it did not type (the app: the form's label; the CLI: "option 'layouts_from'"; a flag
    typed now: the flag)."""
    import shutil

    from test_renderer_training import TINY as OSMIS_TINY
    from test_renderer_training import TINY_RENDERER

    from osmis_core.application.session import resume_training
    from osmis_core.cli import main
    from osmis_core.config import build_config, option_label

    assert main(["train", str(scene), "--out", str(tmp_path / "osmis"), "--iters", "1", "--quiet", *OSMIS_TINY]) == 0
    config = build_config(
        overrides={**TINY_RENDERER, "iters": 2, "layouts_from": str(tmp_path / "osmis"), "unpaired": 1.0}
    )
    run = tmp_path / "run"
    list(start_training(config, scene, run).run())
    shutil.rmtree(tmp_path / "osmis")
    label = option_label("layouts_from")
    with pytest.raises(ConfigError, match=f"^{label}: "):
        resume_training(run, {"iters": 4}, name_as=option_label)
    capsys.readouterr()
    res = osmis_cli(capsys, "train", run, "--resume", "--iters", "4", "--quiet")
    assert res.returncode == 2 and res.stderr.startswith("error: option 'layouts_from': "), res.stderr
