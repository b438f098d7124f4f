"""Breaker session 17 (the run training lock, render default gallery names, the app's export question): one small
test per finding (tiny settings, CPU).

Found and fixed:
- a resume (or a start in place) held the run's training lock only from its first training step: two `osmis train
  RUN --resume` started together both passed check_not_training, and the slower one cut stats.jsonl back, removed
  temporaries and rewrote run.json while the faster one already trained. The lock is now held from the first file
  a resume or start changes (session.resume_training, start_training).
- `osmis batch` deleted a run folder without a checkpoint (left by a dead attempt, it assumed) while a terminal was
  training that run before its first checkpoint: the run is now refused in its summary row, naming the process
  (batch.worker._train checks RunFolder.check_not_training first).
- RUN/.training.lock made a folder (or anything that cannot be opened) said "RUN: the run folder cannot be written
  (Is a directory)" of a writable folder; the sentence now names the lock file (RunFolder.training).
- RUN/.training.lock made a symbolic link was followed: the training wrote its process id over the file it points
  to; the lock is opened without following links (files.exclusive_lock, BATCH/.lock too) and the link refused.
- render default gallery names (render.render_source_label, gallery.gallery_name): renders of one layout re-drawn
  in two classes with one --resample-seed, in the two --noise modes, of layouts named 森林.png and 海.png (both
  '_'), and of two long layout names alike in their first 48 characters had one name, so the second replaced the
  first; the name now says the region and the noise mode, keeps letters of any script, and cuts a long name to 40
  characters plus a hash of the whole.
- an export (or any gallery) into a folder holding only a hidden file (.DS_Store: empty in the app's file dialog)
  was refused as "holds files but no manifest.json"; the sentence names what it holds (gallery.check_gallery_out).

Tried and right: two real `osmis train RUN --resume` processes (the second refused in one sentence naming the run
and the process, exit 2); `osmis train DATA --out RUN` and `osmis run DATA --out RUN --resume` of a run being
trained refused the same way; two resumes started at the same moment (one trains, one refused, stats.jsonl one row
a step); `osmis generate`, `osmis evaluate` and `osmis animate` of a run being trained work; SIGTERM or Ctrl-C of a
training then `--resume` (no stale lock). A layout named raw.png renders to ...-n1-raw-HHHHHH: no generated
gallery can be there (a renderer run has none). The app's export question (gallery.export_replaces): into a generated
gallery, the gallery being viewed, its parent, its images/ folder, a file, a symbolic link (refused before the
question); an earlier export, a damaged one (asked, then replaced); a new or empty folder (no question).

Fixed by the integrator after the pass: a default render name said a layout's file name, not its folder, so
layouts of one name in two folders (or two folders of one name, or names differing only in characters made '_',
★.png and ☆.png) shared it and the second render replaced the first; a hash of the full path now follows the name.

Left open:
- not tried: a run folder on a read-only file system and an unreadable lock file (these tests run as root, which
  reads and writes through file modes, and cannot mount).
"""

from __future__ import annotations

import pytest
from helpers import (
    TINY,
    folder_bytes,
    new_render_galleries,
    save_palette_mask,
    scene_arrays,
    training_elsewhere,
)
from PIL import Image

from osmis_core.application.runfolder import RunFolder
from osmis_core.application.session import resume_training
from osmis_core.cli import main
from osmis_core.errors import OsmisError


def test_a_second_resume_is_refused_while_the_first_changes_the_run_files(two_iteration_copy):
    """Found and fixed: while one resume sets up (here: inside its `check`, after it removed temporaries and before
    it cuts stats.jsonl back and rewrites run.json), a second resume of the run is refused, not set up beside it."""
    run = two_iteration_copy
    refused = []

    def second_resume(config, folder):
        with pytest.raises(OsmisError, match="being trained in this process") as err:
            resume_training(run, {"iters": 6})
        refused.append(str(err.value))

    resume_training(run, {"iters": 4}, check=second_resume)
    assert len(refused) == 1 and str(run) in refused[0]


def test_a_batch_does_not_delete_a_run_a_terminal_trains_before_its_first_checkpoint(tmp_path, local_ray, capsys):
    """Found and fixed: BATCH/runs/s0 without a checkpoint whose training lock a terminal's training holds is kept
    as it is; the batch's row for s0 says the run is being trained, naming the process."""
    src = tmp_path / "src"
    (src / "image").mkdir(parents=True)
    (src / "mask").mkdir()
    img, ids = scene_arrays()
    Image.fromarray(img).save(src / "image" / "s0.png")
    save_palette_mask(ids, src / "mask" / "s0.png")
    out = tmp_path / "batch"
    run = out / "runs" / "s0"
    run.mkdir(parents=True)
    (run / "log.txt").write_text("a terminal's training, before its first checkpoint\n")
    with training_elsewhere(run) as proc:
        before = folder_bytes(run)
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in {**TINY, "iters": 2}.items()]
        main(
            [
                "batch",
                str(src),
                "--out",
                str(out),
                "--n-per-source",
                "1",
                "--num-cpus",
                "1",
                "--cpus-per-run",
                "1",
                "--quiet",
                *flags,
            ]
        )
        assert folder_bytes(run) == before
        summary = (out / "summary.csv").read_text()
        assert f"process {proc.pid}" in summary and "being trained" in summary
    capsys.readouterr()


def test_a_training_lock_that_is_a_folder_is_named(two_iteration_copy, capsys):
    """Found and fixed: RUN/.training.lock made a folder is named in the refusal (exit 2, nothing trained), not
    'the run folder cannot be written' of a folder that can be."""
    run = two_iteration_copy
    lock = RunFolder(run).training_lock
    lock.unlink()
    lock.mkdir()
    before = folder_bytes(run)
    assert main(["train", str(run), "--resume", "--iters", "4", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {lock}: cannot be opened as the run's training lock (Is a directory)"), err
    assert folder_bytes(run) == before


def test_renders_of_two_re_drawn_classes_keep_both(tiny_renderer_run, tmp_path, capsys):
    """Found and fixed: `--resample-class 1` and `--resample-class 2` with one --resample-seed are other pictures;
    the second no longer replaces the first (the default name says which region was re-drawn)."""
    run, layout = tiny_renderer_run
    common = ["--layout", str(layout), "--seed", "31", "--resample-seed", "5"]
    made = new_render_galleries(run, [[*common, "--resample-class", "1"], [*common, "--resample-class", "2"]], capsys)
    assert len(made) == 2, made


def test_renders_in_the_two_noise_modes_keep_both(tiny_renderer_run, tmp_path, capsys):
    """Found and fixed: `--noise instance` beside the default global noise draws other pictures; its default name
    is not the global render's."""
    run, layout = tiny_renderer_run
    common = ["--layout", str(layout), "--seed", "32"]
    made = new_render_galleries(run, [common, [*common, "--noise", "instance"]], capsys)
    assert len(made) == 2, made


def test_renders_of_two_layouts_with_unicode_names_keep_both(tiny_renderer_run, tmp_path, capsys):
    """Found and fixed: layouts named 森林.png and 海.png were both named '_' in the default gallery name, so the
    second render replaced the first; letters of any script are kept."""
    run, layout = tiny_renderer_run
    a, b = tmp_path / "森林.png", tmp_path / "海.png"
    a.write_bytes(layout.read_bytes())
    b.write_bytes(layout.read_bytes())
    made = new_render_galleries(
        run, [["--layout", str(a), "--seed", "33"], ["--layout", str(b), "--seed", "33"]], capsys
    )
    assert [m.rsplit("-", 1)[0] for m in made] == ["step_0000002-seed33-n1-森林", "step_0000002-seed33-n1-海"]


def test_renders_of_two_long_layout_names_alike_at_the_start_keep_both(tiny_renderer_run, tmp_path, capsys):
    """Found and fixed: the name was cut to 48 characters, so layouts whose names differ only after that (a long
    common prefix, a numbered series) replaced each other's renders."""
    run, layout = tiny_renderer_run
    stem = "survey_2024_06_01_drone_flight_north_field_section"
    a, b = tmp_path / f"{stem}_0001.png", tmp_path / f"{stem}_0002.png"
    a.write_bytes(layout.read_bytes())
    b.write_bytes(layout.read_bytes())
    made = new_render_galleries(
        run, [["--layout", str(a), "--seed", "34"], ["--layout", str(b), "--seed", "34"]], capsys
    )
    assert len(made) == 2 and all(len(m) < 120 for m in made), made


def test_renders_of_two_layouts_of_one_name_in_two_folders_keep_both(tiny_renderer_run, tmp_path, capsys):
    """Left open by the pass, fixed by the integrator: a/forest.png and b/forest.png shared the default name; a
    hash of the layout's full path now follows its name."""
    run, layout = tiny_renderer_run
    a, b = tmp_path / "a" / "forest.png", tmp_path / "b" / "forest.png"
    for p in (a, b):
        p.parent.mkdir()
        p.write_bytes(layout.read_bytes())
    made = new_render_galleries(
        run, [["--layout", str(a), "--seed", "35"], ["--layout", str(b), "--seed", "35"]], capsys
    )
    assert len(made) == 2, made


def test_a_training_lock_that_is_a_symbolic_link_does_not_overwrite_its_target(two_iteration_copy, tmp_path, capsys):
    """Found and fixed: RUN/.training.lock made a symbolic link (to a user's file) was followed, and the training
    wrote its process id over that file; the link is now refused, named, and the file left as it was."""
    run = two_iteration_copy
    precious = tmp_path / "notes.txt"
    precious.write_text("a user's notes\n")
    lock = RunFolder(run).training_lock
    lock.unlink()
    lock.symlink_to(precious)
    assert main(["train", str(run), "--resume", "--iters", "4", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {lock}: cannot be opened as the run's training lock"), err
    assert precious.read_text() == "a user's notes\n"


def test_an_export_into_a_folder_that_looks_empty_names_what_it_holds(two_iteration_copy, tmp_path):
    """Found and fixed: a folder holding only a hidden file (.DS_Store; empty in a file dialog) was refused as "the
    folder holds files but no manifest.json"; the sentence names the file, so the user sees why."""
    from osmis_core.application.gallery import export_replaces

    run = two_iteration_copy
    g = tmp_path / "g"
    assert main(["generate", str(run), "--n", "2", "--out", str(g)]) == 0
    dest = tmp_path / "picked"
    dest.mkdir()
    (dest / ".DS_Store").write_bytes(b"\0")
    with pytest.raises(OsmisError, match=r"picked: the folder holds \.DS_Store but no manifest\.json"):
        export_replaces(g, dest)
    assert [p.name for p in dest.iterdir()] == [".DS_Store"]
