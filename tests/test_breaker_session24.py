"""Breaker session 24: the fixes of session 22 (warnings naming an option as it was given, a stopped job leaving no
empty folder, `osmis evaluate` without --real, run-folder refusals) tried at the edges they did not cover."""

import shutil

import pytest
from helpers import TINY, osmis_cli, tiny_flags, two_iteration_run

FAR_ABOVE = "is far above usual values"
# a model that takes a moment to build (its lock is seen, and the start interrupted, before run.json is written)
TINY_START = {**TINY, "ch_g": 64, "ch_d": 64, "log_every": 1}


def _warning(err: str) -> str:
    return next(line for line in err.splitlines() if FAR_ABOVE in line)


def test_config_file_value_warning_names_the_file(scene, tmp_path, capsys):
    """A value far above usual values that came from a config file is named as the file's option, as a refusal of
    the same option names it ("c.toml: option 'lr_g'"), not as an option from nowhere; a typed flag by its flag."""
    config = tmp_path / "c.toml"
    config.write_text("lr_g = 1\n")
    done = osmis_cli(capsys, "inspect", scene, "--config", config, "--lr-d", "1", "--max-size", "96")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if FAR_ABOVE in line]
    assert lines[0].startswith(f"warning: {config}: option 'lr_g' = 1 is far above"), lines
    assert lines[1].startswith("warning: --lr-d = 1 is far above"), lines


def test_resume_with_a_config_file_names_the_file_in_its_warning(two_iteration_copy, tmp_path, capsys):
    """`osmis train RUN --resume --config FILE` raising a learning rate: the warning names FILE's option."""
    from osmis_core.application.runfolder import RunFolder

    config = tmp_path / "again.json"
    shutil.copy(RunFolder(two_iteration_copy).run_json, config)
    text = config.read_text().replace('"lr_d": 0.0002', '"lr_d": 5')
    assert '"lr_d": 5' in text
    config.write_text(text)
    done = osmis_cli(capsys, "train", two_iteration_copy, "--resume", "--config", config, "--iters", "3", "--quiet")
    assert done.returncode == 0, done.stderr
    assert _warning(done.stderr).startswith(f"warning: {config}: option 'lr_d' = 5 is far above"), done.stderr


def test_stopped_animate_leaves_no_empty_folder_it_made(trained, tmp_path):
    """A latent walk stopped while its frames are drawn (the KeyboardInterrupt of Ctrl-C/SIGTERM's handler) leaves
    no empty folder of its --out path behind (nor the run's walks/), as a stopped generate leaves no galleries/;
    a folder that was there already stays."""
    from osmis_core.application.animate import latent_walk

    def stop(done, total):
        raise KeyboardInterrupt

    kept = tmp_path / "kept"
    kept.mkdir()
    for out in (tmp_path / "new" / "sub" / "walk.mp4", kept / "walk.mp4", None):
        with pytest.raises(KeyboardInterrupt):
            latent_walk(trained, out, frames=8, device="cpu", progress=stop)
    assert not (tmp_path / "new").exists()
    assert kept.is_dir() and not any(kept.iterdir())
    assert not (trained / "walks").exists()


def test_evaluate_without_real_refuses_a_run_whose_masks_are_gone(tmp_path, capsys):
    """A run trained with masks, its mask file since renamed: `osmis evaluate GALLERY` (no --real) says the recorded
    mask is gone and asks for --real (exit 2), rather than scoring against the image alone and skipping mIoU as if
    the run had no masks."""
    from helpers import save_palette_mask, scene_arrays
    from PIL import Image

    img, ids = scene_arrays()
    Image.fromarray(img).save(tmp_path / "photo.png")
    mask = save_palette_mask(ids, tmp_path / "photo_mask.png")  # found next to the image, not given with --mask
    run = two_iteration_run(tmp_path / "photo.png", tmp_path / "run")
    gallery = tmp_path / "g"
    assert osmis_cli(capsys, "generate", run, "--n", "2", "--out", gallery, "--device", "cpu").returncode == 0
    mask.rename(tmp_path / "photo_mask_old.png")
    done = osmis_cli(capsys, "evaluate", gallery, "--random-weights", "--metrics", "diversity,miou")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().endswith(f"{mask}, which is not there any more; give the training data with --real.")
    assert not (gallery / "metrics.json").exists()
    # the mask given now (--mask) stands for the recorded one: the run's data with it is scored
    done = osmis_cli(
        capsys,
        "evaluate",
        gallery,
        "--mask",
        tmp_path / "photo_mask_old.png",
        "--random-weights",
        "--metrics",
        "diversity",
    )
    assert done.returncode == 0, done.stderr
    assert (gallery / "metrics.json").is_file()


@pytest.mark.parametrize("command", ["train", "run"])
def test_resume_given_run_json_itself_says_it_is_a_file(two_iteration_copy, capsys, command):
    """`osmis train RUN/run.json --resume` (the file, not its folder): the file is there, so 'no such run folder'
    is wrong; the sentence says it is a file and which folder to give."""
    run_json = two_iteration_copy / "run.json"
    args = [run_json, "--resume"] if command == "train" else [two_iteration_copy, "--out", run_json, "--resume"]
    done = osmis_cli(capsys, command, *args, *tiny_flags(iters=2))
    assert done.returncode == 2
    assert f"{run_json}: a file, not a run folder to resume; give the folder that holds run.json." in done.stderr


def test_evaluate_without_real_finds_a_renamed_run_from_its_own_gallery(trained, tmp_path, capsys):
    """A run folder renamed with its galleries (runs/photo -> runs/photo_v1): `osmis evaluate
    runs/photo_v1/galleries/G` without --real scores against the data that run records (the gallery sits in the
    run's galleries/, as add_to_gallery finds a moved renderer run), not 'its run is not there any more'."""
    assert osmis_cli(capsys, "generate", trained, "--n", "2", "--device", "cpu").returncode == 0
    renamed = trained.rename(tmp_path / "renamed")
    (gallery,) = (renamed / "galleries").iterdir()
    done = osmis_cli(capsys, "evaluate", gallery, "--random-weights", "--metrics", "diversity")
    assert done.returncode == 0, done.stderr
    assert f"the training data of {renamed}" in done.stderr
    assert (gallery / "metrics.json").is_file()


def test_gallery_page_says_its_scores_come_from_random_weights(tmp_path):
    """index.html shows the scores of metrics.json; scored with random weights (--random-weights, or no weight
    files), the page says so with them, as the CLI's table and metrics.json do: a page shared on its own must not
    read as published SIFID."""
    from osmis_core.application.gallery import write_index_html

    warning = "random weights: scores are NOT comparable with published numbers"
    metrics = {
        "summary": {"num_images": 1, "sifid_64": 17.1},
        "per_image": [{"index": 0, "sifid_64": 17.1}],
        "warnings": [warning],
        "random_weights": True,
    }
    manifest = {"run": "r", "checkpoint_step": 1, "seed": 0, "items": [{"index": 0, "image": "images/0000.png"}]}
    page = write_index_html(tmp_path, manifest, metrics).read_text(encoding="utf-8")
    assert warning in page


def test_batch_row_warning_names_the_batchs_flag_and_the_rows_option(tmp_path, local_ray):
    """`osmis batch SRC --lr-d 1` with a row giving lr_g 1: each source's warning about a value far above usual
    values names the option as the batch's refusals do, the batch's flag as "the batch's --lr-d" and the row's
    own option as "option 'lr_g'", not both alike as options from nowhere."""
    import csv
    import json

    from helpers import TINY, save_palette_mask, scene_arrays
    from PIL import Image

    from osmis_core.batch import run_batch
    from osmis_core.config import build_config

    img, ids = scene_arrays()
    Image.fromarray(img).save(tmp_path / "a.png")
    save_palette_mask(ids, tmp_path / "a_mask.png")
    rows = tmp_path / "sources.csv"
    with open(rows, "w", newline="") as f:
        csv.writer(f).writerows([["data", "mask", "name", "lr_g"], ["a.png", "a_mask.png", "a", "1"]])
    flags = {**TINY, "iters": 2, "lr_d": 1.0, "eval_every": 0}
    config = build_config(overrides=flags)
    list(run_batch(rows, config, tmp_path / "batch", n_per_source=1, typed=set(flags), num_cpus=2))
    (row,) = json.loads((tmp_path / "batch" / "summary.json").read_text())["sources"]
    assert row["status"] == "finished", row
    assert "warning: the batch's --lr-d = 1 is far above usual values" in row["message"], row["message"]
    assert "warning: option 'lr_g' = 1 is far above usual values" in row["message"], row["message"]
    assert ".;" not in row["message"], row["message"]  # the warnings joined as one sentence


def test_a_training_stopped_while_it_starts_leaves_no_run_folder(scene, tmp_path, monkeypatch):
    """Ctrl-C (SIGINT, the KeyboardInterrupt `osmis train` also makes of SIGTERM) while a new run is being set up,
    after its folder was made and before run.json: the command says "nothing half-written was left behind", and no
    folder is (it held an empty checkpoints/, samples/ and a lock: 'not a run folder (no run.json)' to every
    command); its new parents neither. A folder that was there already stays. The real signal is sent from inside
    the start, under its training lock (where it clears temporaries), so that it lands there on a loaded machine too:
    a watcher thread polling for the lock missed it under two test workers."""
    import os
    import signal

    from osmis_core.application.runfolder import RunFolder
    from osmis_core.application.session import start_training
    from osmis_core.config import OsmisConfig

    original = RunFolder.remove_temporaries

    def interrupted(self):
        assert (self.root / ".training.lock").exists()  # the folder made and locked, run.json not yet written
        os.kill(os.getpid(), signal.SIGINT)
        return original(self)

    monkeypatch.setattr(RunFolder, "remove_temporaries", interrupted)
    config = OsmisConfig().replace(**{**TINY_START, "iters": 2})
    kept = tmp_path / "kept"
    kept.mkdir()
    for run in (tmp_path / "new" / "runs" / "r", kept / "r"):
        with pytest.raises(KeyboardInterrupt):
            start_training(config, scene, run)
        assert not run.exists()
    assert not (tmp_path / "new").exists()
    assert kept.is_dir() and not any(kept.iterdir())


def test_ada_target_with_no_ada_says_the_flag_that_turns_it_on(scene, tmp_path, capsys):
    """`--no-ada --ada-target 0.6`: the refusal tells how to turn adaptive augmentation on, which is --ada, not the
    --no-ada the user typed ("turn it on (--no-ada or p_aug adaptive)")."""
    done = osmis_cli(capsys, "train", scene, "--out", tmp_path / "r", "--no-ada", "--ada-target", "0.6", *tiny_flags())
    assert done.returncode == 2 and not (tmp_path / "r").exists()
    assert "turn it on (--ada or p_aug adaptive)" in done.stderr, done.stderr


@pytest.mark.parametrize("what", ["missing", "file", "run"])
def test_evaluate_without_real_of_no_gallery_says_what_it_is(trained, tmp_path, capsys, what):
    """`osmis evaluate DIR` without --real where DIR is no gallery: a missing folder is 'no such gallery folder', a
    file 'is a file, not a gallery folder' (fix34: it was called missing too), and a run folder 'is a run folder,
    not a gallery', as with --real; not 'has no manifest.json naming the run it came from' (which asks for --real,
    as if scoring could go on with it)."""
    target = {"missing": tmp_path / "nope", "file": trained / "run.json", "run": trained}[what]
    done = osmis_cli(capsys, "evaluate", target, "--random-weights", "--metrics", "diversity")
    assert done.returncode == 2
    said = {"missing": "no such gallery folder.", "file": "is a file, not a gallery folder.", "run": ""}[what]
    said = said or "is a run folder, not a gallery"
    assert done.stderr.strip().startswith(f"error: {target}: {said}"), done.stderr


def test_evaluate_without_real_of_a_no_masks_run_needs_no_mask_files(tmp_path, capsys):
    """A run trained with --no-masks on data that has masks lists them in run.json but never read them: their
    being gone does not stop `osmis evaluate GALLERY` without --real."""
    from helpers import write_scene

    from osmis_core.application.session import start_training
    from osmis_core.config import OsmisConfig

    scene = write_scene(tmp_path)
    config = OsmisConfig().replace(**{**TINY, "iters": 2, "eval_every": 0, "keep_best": "none", "masks": False})
    for _ in start_training(config, scene, tmp_path / "run").run():
        pass
    assert osmis_cli(capsys, "generate", tmp_path / "run", "--n", "2", "--out", tmp_path / "g").returncode == 0
    shutil.rmtree(scene / "mask")
    done = osmis_cli(capsys, "evaluate", tmp_path / "g", "--random-weights", "--metrics", "diversity")
    assert done.returncode == 0, done.stderr


def test_a_cuda_index_beyond_the_machines_gpus_is_refused_in_one_sentence():
    """--device cuda:N (the Settings form's Device field) with N at or beyond the number of GPUs: one sentence naming
    the device and how many GPUs there are, from the check the form and a start both use, not torch's 'invalid
    device ordinal' once training moves its first tensor. On a machine without a CUDA GPU, 'no CUDA GPU'."""
    import torch

    from osmis_core.devices import resolve_device
    from osmis_core.errors import ConfigError

    beyond = f"cuda:{torch.cuda.device_count()}"
    with pytest.raises(ConfigError) as refused:
        resolve_device(beyond)
    if torch.cuda.is_available():
        assert str(refused.value).startswith(f"device '{beyond}' was asked for but this machine has "), refused.value
    else:
        assert str(refused.value) == f"device '{beyond}' was asked for but no CUDA GPU is available."
