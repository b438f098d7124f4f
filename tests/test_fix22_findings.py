"""Findings left open by earlier testers, fixed on branch fix22: one small test each (tiny settings, CPU)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from helpers import osmis_cli, start_osmis, tiny_flags, wait_for

ROOT = Path(__file__).resolve().parents[1]


# about 40 s: slow; test_a_stop_signal_inside_torch_save_is_the_interrupt_not_a_failed_write is the fast proof
@pytest.mark.slow
def test_a_second_sigterm_during_the_stop_checkpoint_write_aborts_as_a_stop(scene, tmp_path):
    """A second SIGTERM that lands while the stop's checkpoint is being written (the process is frozen with SIGSTOP
    while the checkpoint's temporary file exists, the signal sent, then it goes on) aborts as an interrupted stop:
    exit 143 and the SIGTERM sentence, no traceback, no "training failed", the temporary file removed, the earlier
    checkpoint and run.json intact. Wider channels make the checkpoint large enough to catch its write. Where the
    interrupt lands in code that swallows it (torch.save's pickler did, in CI), the command raises it again at its
    next event: the fast proof is test_sigterm's test_a_second_sigterm_whose_interrupt_is_swallowed_...."""
    run = tmp_path / "run"
    wide = tiny_flags(ch_g=24, ch_d=24)
    first = start_osmis("train", scene, "--out", run, "--quiet", *wide, "--iters", "1", cwd=ROOT)
    assert first.wait(timeout=300) == 0, first.communicate()
    before = (run / "checkpoints" / "step_0000001.pt").read_bytes()
    big = ["--iters", "100000", "--checkpoint-every", "100000", "--preview-every", "100000"]
    proc = start_osmis("train", run, "--resume", "--quiet", *big, cwd=ROOT)
    stats = run / "stats.jsonl"
    lines = stats.read_text(encoding="utf-8").count("\n")
    wait_for(lambda: stats.read_text(encoding="utf-8").count("\n") > lines, proc, "the resumed iterations", 300)
    run_json = (run / "run.json").read_text(encoding="utf-8")  # as the resume rewrote it
    os.kill(proc.pid, signal.SIGTERM)
    checkpoints = run / "checkpoints"
    end = time.monotonic() + 120
    while not list(checkpoints.glob(".step_*.tmp")):
        assert proc.poll() is None and time.monotonic() < end, "the stop's checkpoint write was not seen"
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        writing = list(checkpoints.glob(".step_*.tmp"))
        os.kill(proc.pid, signal.SIGTERM)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    _, err = proc.communicate(timeout=120)
    if not writing:  # frozen just after the write ended: this run cannot tell
        pytest.skip("the checkpoint write ended before the process was frozen")
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "terminated (SIGTERM)" in err and "training failed" not in err and "Traceback" not in err, err
    assert not list(checkpoints.glob("*.tmp"))
    assert (checkpoints / "step_0000001.pt").read_bytes() == before
    assert (run / "run.json").read_text(encoding="utf-8") == run_json


def test_a_batch_message_says_a_typed_value_once():
    """A rule broken between a row's option and the batch's typed flag names the flag and says its value once:
    "the batch's --noise-dim (4)", not "--noise-dim 4 (4)"."""
    from osmis_core.batch.sources import source_config
    from osmis_core.config import OsmisConfig
    from osmis_core.errors import ConfigError

    with pytest.raises(ConfigError) as refused:
        source_config(OsmisConfig().replace(noise_dim=4), {"noise_spatial": 6}, typed={"noise_dim"})
    assert "the batch's --noise-dim (4)" in str(refused.value), refused.value


@pytest.mark.parametrize("how", ["close", "interrupt"])
def test_a_stopped_generate_leaves_no_empty_galleries_folder(trained, how):
    """A generation stopped before its end (the app's stop closes the event stream; Ctrl-C / SIGTERM raise
    KeyboardInterrupt into it) removes its staging folder and the galleries/ folder it created for it: nothing
    half-made is left. A galleries/ folder that was there before stays."""
    from osmis_core.application.gallery import gallery_events
    from osmis_core.events import GenerationStarted

    assert not (trained / "galleries").exists()
    events = gallery_events(trained, n=4, batch_size=1, device="cpu")
    assert isinstance(next(events), GenerationStarted)
    next(events)
    if how == "close":
        events.close()
    else:
        with pytest.raises(KeyboardInterrupt):
            events.throw(KeyboardInterrupt())
    assert not (trained / "galleries").exists()
    (trained / "galleries").mkdir()
    events = gallery_events(trained, n=4, batch_size=1, device="cpu")
    next(events)
    events.close()
    assert (trained / "galleries").is_dir() and not list((trained / "galleries").iterdir())


def test_the_miou_progress_is_no_carriage_return_bar_when_stderr_is_not_a_terminal(trained, scene, capsys):
    """`osmis evaluate` with mIoU into a log (stderr not a terminal): no bar redrawn with carriage returns, only
    the command's sentences."""
    from osmis_core.application.gallery import generate_gallery

    gallery = generate_gallery(trained, n=2, device="cpu")
    r = osmis_cli(
        capsys, "evaluate", gallery, "--real", scene, "--metrics", "miou", "--miou-steps", "3", "--random-weights"
    )
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr and "step/s" not in r.stderr, r.stderr


def test_a_manifest_where_only_some_items_list_a_mask_is_refused_naming_the_first(trained, scene, capsys):
    """A gallery manifest in which only some items list a mask is an incomplete gallery: refused naming the manifest
    and the first item without one (exit 2, nothing written), as a mask file deleted from a gallery is (breaker 21),
    not read as a gallery without masks that drops every mask."""
    import json

    from osmis_core.application.gallery import generate_gallery

    gallery = generate_gallery(trained, trained.parent / "g", n=3, device="cpu")
    manifest = json.loads((gallery / "manifest.json").read_text(encoding="utf-8"))
    for key in ("mask", "overlay", "class_shares"):
        del manifest["items"][1][key]
    (gallery / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    r = osmis_cli(capsys, "evaluate", gallery, "--real", scene, "--random-weights", "--metrics", "diversity")
    assert r.returncode == 2, r.stderr
    assert str(gallery / "manifest.json") in r.stderr and "item 1 (images/0001.png) lists no mask" in r.stderr
    assert not (gallery / "metrics.json").exists()


def test_evaluate_without_real_scores_against_the_runs_recorded_data(trained, capsys):
    """`osmis evaluate GALLERY` without --real takes the training data its run's run.json records, saying so in
    one line; when that data is gone, one sentence names the recorded path and asks for --real (exit 2)."""
    import json

    from osmis_core.application.gallery import generate_gallery

    gallery = generate_gallery(trained, n=2, device="cpu")
    info = json.loads((trained / "run.json").read_text(encoding="utf-8"))
    data = info["data"]["path"]
    r = osmis_cli(capsys, "evaluate", gallery, "--random-weights", "--metrics", "diversity")
    assert r.returncode == 0, r.stderr
    said = [line for line in r.stderr.splitlines() if line.startswith("scoring against")]
    assert said == [f"scoring against {data}, the training data of {trained} (its run.json; --real for other data)"]
    assert (gallery / "metrics.json").is_file()

    gone = str(trained.parent / "moved-away")
    info["data"]["path"] = gone
    (trained / "run.json").write_text(json.dumps(info), encoding="utf-8")
    r = osmis_cli(capsys, "evaluate", gallery, "--random-weights", "--metrics", "diversity")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and gone in lines[0] and "--real" in lines[0], r.stderr


def test_resuming_a_missing_run_folder_says_no_such_run_folder_as_generate_does(tmp_path, scene, capsys):
    """`osmis train NONEXIST --resume` names the path and says there is no such run folder, in the words of
    `osmis generate NONEXIST` (RunFolder.require), not "not a run folder (no run.json)"."""
    missing = tmp_path / "nonexist"
    generate = osmis_cli(capsys, "generate", missing)
    assert generate.returncode == 2 and generate.stderr == f"error: {missing}: no such run folder.\n"
    resume = osmis_cli(capsys, "train", missing, "--resume")
    assert resume.returncode == 2 and resume.stderr == f"error: {missing}: no such run folder to resume.\n"
    job = osmis_cli(capsys, "run", scene, "--out", missing, "--resume", "--quiet")
    assert job.returncode == 2, job.stderr
    assert job.stderr == f"error: {missing}: no such run folder to resume; leave out --resume to start it.\n"
    assert not missing.exists()


def test_a_stop_signal_inside_torch_save_is_the_interrupt_not_a_failed_write(tmp_path):
    """A real signal (SIGALRM, whose handler raises KeyboardInterrupt as a second Ctrl-C / SIGTERM does) that lands
    while a checkpoint is being written through atomic_write_bytes comes out as that KeyboardInterrupt, not as
    torch's "unexpected pos" RuntimeError (read as a training failure); the temporary file is removed and the file
    that was there is untouched. The signal is sent while the temporary file exists: the write is in progress."""
    import torch

    from osmis_core.files import atomic_write_bytes

    path = tmp_path / "step_0000002.pt"
    path.write_bytes(b"the previous checkpoint")
    state = {f"w{i}": torch.ones(1 << 20) for i in range(48)}  # 192 MB: writing it takes far longer than the timer
    seen: list[list[str]] = []

    def stop(signum, frame):
        if not seen:
            seen.append([p.name for p in tmp_path.glob("*.tmp")])
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, stop)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.02, 0.005)  # again and again until it lands, in whatever part
        with pytest.raises(KeyboardInterrupt):
            atomic_write_bytes(path, lambda f: torch.save(state, f))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert seen and seen[0], "the signal came before the write began"
    assert path.read_bytes() == b"the previous checkpoint"
    assert not list(tmp_path.glob("*.tmp"))


def test_the_librarys_resume_of_a_missing_folder_says_it_in_the_same_words(tmp_path):
    """resume_training (the app's Continue, a library caller) refuses a missing run folder in the sentence of
    `osmis train --resume` (RunFolder.require)."""
    from osmis_core.application.session import resume_training
    from osmis_core.errors import OsmisError

    with pytest.raises(OsmisError) as refused:
        resume_training(tmp_path / "nonexist")
    assert str(refused.value) == f"{tmp_path / 'nonexist'}: no such run folder to resume."
