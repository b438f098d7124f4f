"""Breaker session 34: faults during long jobs on the CLI (a full disk emulated by the file-size limit, a read-only
folder, kills, hand-edited run files, two commands on one gallery); each finding one test on a tiny run.

Tried and right: `ulimit -f` below a checkpoint's size (training: exit 2, "cannot be written at step 2 (File too
large); no checkpoint had been saved yet"), below a picture's (generate: exit 2, no gallery, no staging folder), at
export and animate (exit 2, nothing left); checkpoints/, samples/, log.txt or stats.jsonl made read-only mid-training
(exit 2 naming the file and the checkpoint kept as latest); SIGTERM during animate (exit 143, no file); generate
while training prunes its checkpoints every step; run.json with out-of-range, wrong-type or unknown options (refused
by the resume naming the option; generate and animate need none of them). Not fixed: a kill -9 during evaluate or
animate leaves its `.NAME.XXXXXXXX.tmp` in the gallery or beside the video (small files, and with no owner id in
their names a later command cannot tell them from a running command's); `osmis run` whose gallery stage fails after
training says why but not that the training is kept and `--resume` finishes the job."""

from __future__ import annotations

import contextlib
import json
import resource
import shutil
import subprocess
import sys

import pytest
from helpers import folder_bytes, osmis_cli


@contextlib.contextmanager
def file_size_limit(limit: int):
    """Writes past `limit` bytes fail with EFBIG ("File too large") in the `with` block, as on a full disk: the
    soft RLIMIT_FSIZE, which Python answers with an error (it ignores SIGXFSZ) rather than a kill."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def _gallery(trained, capsys):
    assert osmis_cli(capsys, "generate", trained, "--n", "2").returncode == 0
    (gallery,) = (trained / "galleries").iterdir()
    return gallery


def test_a_full_disk_while_scoring_leaves_no_new_metrics_file_beside_the_old_page(trained, capsys):
    """`osmis evaluate` wrote metrics.json, metrics.csv and index.html one after the other: with the disk full at
    the page (the file-size limit above the two small files, below the page), it said "the metrics cannot be
    written" yet left the new metrics.json and metrics.csv beside the old page, which showed no scores. The three
    are now written together: none is put in place unless all are whole."""
    gallery = _gallery(trained, capsys)
    before = folder_bytes(gallery)
    page = (gallery / "index.html").stat().st_size
    assert page > 1024  # the limit below falls between the metrics files and the page
    with file_size_limit(1024):
        done = osmis_cli(capsys, "evaluate", gallery, "--metrics", "diversity", "--random-weights")
    assert done.returncode == 2, done
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: {gallery}/index.html: the metrics cannot be written (File too large)."
    )
    assert folder_bytes(gallery) == before
    assert not [p.name for p in gallery.iterdir() if p.name.startswith(".")]
    # with room, the three are written and agree
    done = osmis_cli(capsys, "evaluate", gallery, "--metrics", "diversity", "--random-weights")
    assert done.returncode == 0, done
    score = json.loads((gallery / "metrics.json").read_text())["summary"]["pixel_diversity"]
    assert f"{score:.5g}" in (gallery / "index.html").read_text()
    assert "pixel_diversity" in (gallery / "metrics.csv").read_text()


def test_a_write_whose_temporary_cannot_be_made_names_the_file_not_the_temporary(tmp_path):
    """When the temporary file of an atomic write could not be made (its folder read-only, or its name past the
    system's 255 bytes while the file's own name fits), the OSError named the temporary, `.NAME.XXXXXXXX.tmp`,
    which the user never sees, and the commands that name the failed file by it said so: `osmis train RUN --resume`
    in a read-only run said "error: RUN/.stats.jsonl.ukmta7jk.tmp: Permission denied", a training whose
    checkpoints/ became read-only "RUN/checkpoints/.step_0000028.pt.tcc9tm0g.tmp: cannot be written at step 28".
    It names the file now, and leaves nothing."""
    from osmis_core.files import atomic_write_text, atomic_write_texts

    path = tmp_path / ("w" * 246 + ".json")  # 251 bytes: the file fits, its temporary does not
    for write in (
        lambda: atomic_write_text(path, "{}"),
        lambda: atomic_write_texts({tmp_path / "a.json": "1", path: "2"}),
    ):
        with pytest.raises(OSError) as caught:
            write()
        assert caught.value.filename == str(path)
        assert caught.value.strerror == "File name too long"
        assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv to drop root's override of permissions")
def test_a_resume_in_a_read_only_run_folder_names_the_runs_file(trained, tmp_path):
    """A read-only run folder (chmod 555; the test drops root's permission override with setpriv, as the tests run
    as root): the resume's first write, stats.jsonl cut back to the checkpoint, was named by its temporary."""
    probe = subprocess.run(
        ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--", "true"], capture_output=True
    )
    if probe.returncode != 0:
        pytest.skip(f"setpriv cannot drop capabilities here: {probe.stderr.decode().strip()}")
    before = folder_bytes(trained)
    trained.chmod(0o555)
    try:
        done = subprocess.run(
            ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]
            + [sys.executable, "-m", "osmis_core", "train", str(trained), "--resume", "--quiet"],
            capture_output=True,
            text=True,
            env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
            timeout=120,
        )
    finally:
        trained.chmod(0o755)
    assert done.returncode == 2, done
    assert done.stderr.strip() == f"error: {trained}/stats.jsonl: Permission denied", done.stderr
    lock = trained.relative_to(trained) / ".training.lock"  # holds the id of the last process that took it
    assert {k: v for k, v in folder_bytes(trained).items() if k != lock} == {
        k: v for k, v in before.items() if k != lock
    }


def _edit_run_json(run, **changes):
    info = json.loads((run / "run.json").read_text())
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        holder = info
        for part in parents:
            holder = holder[part]
        holder[key] = value
    (run / "run.json").write_text(json.dumps(info))


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("data__path", 5, "'data.path' is not a text"),
        ("data__source", "x", "'data.source' is not a JSON object"),
        ("data__source__masks", 3, "'data.source.masks' is not a list"),
        ("data__num_classes", "3", "'data.num_classes' is not a whole number"),
        ("architecture__height", "48", "'architecture.height' is not a whole number"),
        ("resume_changes", "x", "'resume_changes' is not a list"),
        ("rollbacks", "x", "'rollbacks' is not a list"),
        ("resume_changes", [1], "'resume_changes' holds an item that is not a JSON object"),
    ],
)
def test_a_hand_edited_run_json_entry_of_another_kind_is_refused_in_one_sentence(trained, capsys, field, value, words):
    """run.json entries that the commands read, edited by hand into another kind: an int data.path ended `osmis
    train RUN --resume` in a TypeError traceback, a text data.source `osmis animate` in a ValueError, a text
    resume_changes the resume that records a change ("can only concatenate str"), a text rollbacks would have ended
    a training at its first rollback; a text num_classes or height was called a damaged checkpoint "made by another
    run: 3 classes where this run has 3". Each command now refuses the file in one sentence naming the entry, and
    writes nothing."""
    _edit_run_json(trained, **{field: value})
    before = folder_bytes(trained)
    expected = f"error: {trained}/run.json: cannot be read ({words}); was it edited by hand?"
    for argv in (
        ["train", trained, "--resume", "--iters", "6", "--quiet"],
        ["generate", trained, "--n", "1"],
        ["animate", trained, "--out", trained / "walks" / "w.mp4", "--frames", "2"],
    ):
        done = osmis_cli(capsys, *argv)
        assert done.returncode == 2, (argv, done)
        assert done.stderr.strip().splitlines()[-1] == expected, (argv, done.stderr)
        assert "Traceback" not in done.stderr
    assert folder_bytes(trained) == before


def test_a_run_json_as_osmis_writes_it_is_still_read(trained, capsys):
    """The kinds held to are those osmis writes: a run of its own (nulls where it writes them: mask_path, a source
    video) resumes and generates as before."""
    _edit_run_json(trained, data__mask_path=None, data__source__video=None, resume_changes=[], rollbacks=[])
    assert osmis_cli(capsys, "train", trained, "--resume", "--quiet").returncode == 0
    assert osmis_cli(capsys, "generate", trained, "--n", "1").returncode == 0


def test_temporaries_of_a_best_checkpoint_killed_mid_write_are_removed_on_resume(trained, capsys):
    """A kill while best.pt or best.json was written (--keep-best, at an evaluation) left its temporary,
    `.best.pt.XXXXXXXX.tmp` (a whole checkpoint's size: hundreds of MB for the paper's model) in checkpoints/,
    and no start or resume removed it: the run's clean-up knew the step checkpoints' temporaries only."""
    left = [trained / "checkpoints" / ".best.pt.k1ll3d_x.tmp", trained / "checkpoints" / ".best.json.abcd1234.tmp"]
    for p in left:
        p.write_bytes(b"PK\x03\x04 half a file")
    done = osmis_cli(capsys, "train", trained, "--resume", "--quiet")
    assert done.returncode == 0, done
    assert not [p for p in left if p.exists()]
    assert "removed 2 temporary file(s) left by an interrupted write" in (trained / "log.txt").read_text()


def test_scores_of_a_gallery_replaced_while_it_was_scored_are_not_written_into_the_new_one(trained, capsys):
    """`osmis evaluate G` while `osmis generate --out G` (or the app) rebuilt G: the scores of the pictures it had
    read were written into the new gallery, beside pictures they were not computed on (metrics.json and the page
    showed the old pictures' numbers under the new ones). The rebuild is played here inside the scoring (when it
    has read the pictures and made its plan), as a second command would; the scores are now refused in one
    sentence, the new gallery kept as it was made."""
    from osmis_core.application.evaluation import evaluate_gallery
    from osmis_core.application.gallery import generate_gallery
    from osmis_core.errors import OsmisError

    gallery = trained / "galleries" / "g"
    generate_gallery(trained, gallery, n=2, seed=0, device="cpu")
    data = json.loads((trained / "run.json").read_text())["data"]["path"]
    rebuilt = []

    def rebuild(*_):
        if not rebuilt:
            rebuilt.append(generate_gallery(trained, gallery, n=2, seed=7, device="cpu"))

    with pytest.raises(OsmisError) as caught:
        evaluate_gallery(gallery, data, metrics=["diversity"], random_weights=True, on_plan=rebuild)
    assert rebuilt, "the scoring made no plan: the rebuild did not happen during it"
    assert str(caught.value) == (
        f"{gallery}: the gallery was replaced by another command while it was scored, so its scores were not "
        "written; score it again."
    )
    assert json.loads((gallery / "manifest.json").read_text())["seed"] == 7
    assert sorted(p.name for p in gallery.iterdir()) == ["images", "index.html", "manifest.json", "masks", "overlays"]
    # scored again, the new gallery gets its own scores
    evaluate_gallery(gallery, data, metrics=["diversity"], random_weights=True)
    assert (gallery / "metrics.json").is_file()


def test_a_killed_generates_building_folder_goes_when_another_gallery_of_the_run_is_made(trained, capsys):
    """`osmis generate` killed (SIGKILL: no clean-up runs) while it built a gallery leaves its hidden
    `.NAME.building-PID-*` folder in RUN/galleries, as large as the pictures written so far; only generating that very
    gallery (same checkpoint, seed and n) again removed it, so after a generate with another --n it stayed for good.
    Any gallery built beside it now removes it (its process is gone), and a `.NAME.old-*` left by a kill between
    the two renames of a swap is put back as NAME."""
    import signal

    from helpers import start_osmis, wait_for

    galleries = trained / "galleries"
    proc = start_osmis("generate", trained, "--n", "100000", "--batch-size", "1", cwd=trained)
    try:
        wait_for(lambda: galleries.is_dir() and any(galleries.iterdir()), proc, "the building folder", 120)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.communicate()
    (left,) = list(galleries.iterdir())
    assert left.name.startswith(".step_0000004-seed0-n100000.building-"), left.name
    # a kill between the renames of another gallery's swap: its old folder hidden, the name empty
    old = galleries / ".kept.old-99999999-0123abcd"
    (old / "images").mkdir(parents=True)
    (old / "manifest.json").write_text("{}")
    done = osmis_cli(capsys, "generate", trained, "--n", "1")
    assert done.returncode == 0, done
    assert sorted(p.name for p in galleries.iterdir()) == ["kept", "step_0000004-seed0-n1"]
    assert (galleries / "kept" / "manifest.json").read_text() == "{}"


def test_a_checkpoint_of_a_run_of_another_width_is_not_taken_for_this_runs_latest(trained, tmp_path, capsys):
    """A newer step checkpoint copied in from a run of the same data and size but another --ch-g (the same
    architecture fields: size, noise shape, blocks, classes): `osmis generate` made a gallery from the other run's
    weights without a word, and `osmis train --resume` refused the whole run ("the checkpoint was made with another
    config than run.json", naming no file). It is now a checkpoint of another run, as one of another size is: both
    fall back to this run's previous good checkpoint with a warning naming the file and the option."""
    from helpers import tiny_flags, write_scene

    other = tmp_path / "other"
    scene = write_scene(tmp_path)
    argv = ["train", scene, "--out", other, "--iters", "6", "--quiet", *tiny_flags(ch_g=8, checkpoint_every=6)]
    assert osmis_cli(capsys, *argv).returncode == 0
    foreign = trained / "checkpoints" / "step_0000006.pt"
    shutil.copy(other / "checkpoints" / "step_0000006.pt", foreign)
    warning = (
        f"warning: {foreign}: damaged checkpoint (made by another run: ch_g 8 where this run has 4); using the "
        "previous good checkpoint step_0000004.pt"
    )
    done = osmis_cli(capsys, "generate", trained, "--n", "1")
    assert done.returncode == 0, done
    assert warning in done.stderr.splitlines()
    assert (
        json.loads((trained / "galleries" / "step_0000004-seed0-n1" / "manifest.json").read_text())["checkpoint_step"]
        == 4
    )
    done = osmis_cli(capsys, "train", trained, "--resume", "--iters", "6", "--quiet")
    assert done.returncode == 0, done
    assert warning in done.stderr.splitlines()
    assert "resumed at iteration 4 of 6" in done.stderr
