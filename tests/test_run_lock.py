"""One training of a run at a time (RunFolder.training, held by Trainer.run): a second `osmis train RUN --resume`
in another terminal, or the app's "Continue run" beside a terminal's, would write one run's checkpoints and stats in
turn, and its resume would first cut stats.jsonl back and remove the running training's temporary files (breaker
16's open finding). The lock is the operating system's (flock), so a killed training leaves none behind."""

from __future__ import annotations

import pytest
from helpers import TINY, folder_bytes, tiny_flags, training_elsewhere

from osmis_core.application.runfolder import RunFolder
from osmis_core.application.session import resume_training
from osmis_core.cli import main
from osmis_core.errors import OsmisError


@pytest.fixture
def held_by_another_process(two_iteration_copy):
    """A finished two-iteration run whose training lock another process holds (as a training would)."""
    run = two_iteration_copy
    with training_elsewhere(run) as proc:
        yield run, proc.pid


def test_a_resume_of_a_run_being_trained_is_refused_and_changes_nothing(held_by_another_process, capsys):
    run, pid = held_by_another_process
    (run / "checkpoints" / ".step_0000009.pt.abcd1234.tmp").write_bytes(b"the other training's write")
    before = folder_bytes(run)
    assert main(["train", str(run), "--resume", "--iters", "4", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: {run}: the run is being trained by another process (process {pid}); wait for it to end or stop it, "
        "then run this command again."
    )
    assert folder_bytes(run) == before  # its temporary file and stats.jsonl untouched


def test_the_library_and_the_app_are_refused_the_same_way(held_by_another_process):
    run, pid = held_by_another_process
    with pytest.raises(OsmisError, match=f"process {pid}"):
        resume_training(run, {"iters": 4})


def test_a_run_killed_while_training_resumes(two_iteration_copy, capsys):
    """The lock goes with its process: a holder killed (as a training killed by the system) leaves a lock file
    that nobody holds, and the run resumes."""
    run = two_iteration_copy
    with training_elsewhere(run):
        pass  # killed on leaving
    assert RunFolder(run).training_lock.is_file()
    assert main(["train", str(run), "--resume", "--iters", "3", "--quiet"]) == 0
    assert RunFolder(run).checkpoint_steps()[-1] == 3
    capsys.readouterr()


def test_a_second_trainer_in_the_same_process_is_refused_before_its_first_event(scene, tmp_path):
    """The app's own two trainings (the lock belongs to an open of the file, not to a process): the second
    Trainer.run is refused before it yields, the first goes on."""
    from osmis_core.application.session import start_training
    from osmis_core.config import build_config
    from osmis_core.events import TrainingStarted

    first = start_training(
        build_config(overrides={**TINY, "iters": 3, "eval_every": 0, "keep_best": "none"}), scene, tmp_path / "run"
    )
    events = first.run()
    assert isinstance(next(events), TrainingStarted)
    second = start_training(
        build_config(overrides={**TINY, "iters": 3, "eval_every": 0, "keep_best": "none"}), scene, tmp_path / "other"
    )
    assert list(second.run())  # another run trains beside it
    again = RunFolder(tmp_path / "run")
    with pytest.raises(OsmisError, match="is being trained in this process"):
        with again.training():
            pass
    assert list(events)  # the first finishes
    with again.training():  # and lets go
        pass


def test_a_new_start_into_a_run_being_started_is_refused(scene, tmp_path, capsys):
    """A run stopped before its first checkpoint is started again in place, emptied first; a run still training
    before its first checkpoint must not be."""
    run = tmp_path / "run"
    assert main(["train", str(scene), "--out", str(run), "--quiet", *tiny_flags(iters=2)]) == 0
    for p in (run / "checkpoints").iterdir():
        p.unlink()  # as a run before its first checkpoint
    with training_elsewhere(run):
        before = folder_bytes(run)
        assert main(["train", str(scene), "--out", str(run), "--quiet", *tiny_flags(iters=2)]) == 2
        assert "the run is being trained by another process" in capsys.readouterr().err
        assert folder_bytes(run) == before
