"""Breaker session 26: stop signals (Ctrl-C, SIGTERM) pressed again during an abort's clean-up, between the two
renames that swap a gallery in, while the command loads, while the process shuts down, and `osmis_core.cli.main`
called from another thread or twice in a row, `osmis batch` stopped or terminated (Ray's handlers); then odd
input from README's commands (Adam betas of 1, a background colour that is none, evaluate's real mask of another
aspect, batch's resource flags). Real signals (os.kill), sent from inside the code where a user's keypress would
land."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from helpers import folder_bytes, osmis_cli, tiny_flags

import osmis_core.application.gallery as gallery_module
from osmis_core import cli

ROOT = Path(__file__).resolve().parents[1]


def _signal_here(signum: int) -> None:
    """Send this process `signum`; its Python handler runs by the next call's return, here."""
    os.kill(os.getpid(), signum)
    (lambda: None)()


def _hidden_leftovers(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob(".*") if ".building-" in p.name or ".old-" in p.name)


def test_ctrl_c_again_during_a_stopped_gallerys_clean_up_still_removes_its_staging_folder(
    trained, tmp_path, capsys, monkeypatch
):
    """Ctrl-C stops `osmis generate`; Ctrl-C pressed again while the staging folder is being removed stopped that
    removal half way: the hidden `.gal.building-*` folder README promises never to leave was left."""
    real_discard = gallery_module.discard_staging
    monkeypatch.setattr(gallery_module, "to_uint8_images", lambda *a: _signal_here(signal.SIGINT))

    def discard_pressed_again(staging):
        _signal_here(signal.SIGINT)
        real_discard(staging)

    monkeypatch.setattr(gallery_module, "discard_staging", discard_pressed_again)
    done = osmis_cli(capsys, "generate", trained, "--out", tmp_path / "gal", "--n", "2", "--device", "cpu")
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().endswith("interrupted: osmis generate stopped; nothing half-written was left behind")
    assert not (tmp_path / "gal").exists()
    assert _hidden_leftovers(tmp_path) == []


def test_a_third_stop_signal_during_an_aborted_checkpoint_write_still_removes_its_temporary_file(
    scene, tmp_path, capsys, monkeypatch
):
    """First SIGTERM: stop after the step. The second lands in the checkpoint write (an abort); a third while the
    write's temporary file is being removed stopped that removal: a `.step_*.pt.*.tmp` was left in checkpoints/."""
    import torch

    real_save, real_unlink = torch.save, os.unlink
    sent: list[str] = []

    def save(*args, **kwargs):
        if not sent:
            sent.append("stop")
            _signal_here(signal.SIGTERM)  # the first: a stop after this step, nothing raised
            sent.append("abort")
            _signal_here(signal.SIGTERM)  # the second: Terminated raised here, in the write
        return real_save(*args, **kwargs)

    def unlink(path, *args, **kwargs):
        if sent == ["stop", "abort"] and str(path).endswith(".tmp"):
            sent.append("again")
            _signal_here(signal.SIGTERM)
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    monkeypatch.setattr(os, "unlink", unlink)
    run = tmp_path / "run"
    done = osmis_cli(capsys, "train", scene, "--out", run, "--quiet", *tiny_flags(iters=6, checkpoint_every=1))
    assert sent == ["stop", "abort", "again"]
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert "terminated (SIGTERM): osmis train stopped" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in run.rglob("*.tmp")) == []


def test_a_stop_between_the_two_renames_that_swap_a_gallery_in_leaves_the_old_gallery_in_its_place(
    trained, tmp_path, capsys, monkeypatch
):
    """`osmis generate` over an existing gallery renames it aside, then the new one in. A Ctrl-C landing between
    the two renames left the gallery hidden as `.gal.old-*` and its place empty, where README promises the gallery
    a stopped command was to replace stays unchanged."""
    gal = tmp_path / "gal"
    first = osmis_cli(capsys, "generate", trained, "--out", gal, "--n", "2", "--device", "cpu")
    assert first.returncode == 0, first.stderr
    before = folder_bytes(gal)
    real_rename = os.rename

    def rename(src, dst, *args, **kwargs):
        real_rename(src, dst, *args, **kwargs)
        if Path(src) == gal:
            _signal_here(signal.SIGINT)  # as the first rename returns

    monkeypatch.setattr(os, "rename", rename)
    done = osmis_cli(capsys, "generate", trained, "--out", gal, "--n", "3", "--seed", "5", "--device", "cpu")
    assert done.returncode == 130, done.stderr
    assert folder_bytes(gal) == before
    assert _hidden_leftovers(tmp_path) == []


def test_main_called_from_another_thread_runs_the_command(scene, capsys):
    """A library user's worker thread calling `osmis_core.cli.main`: setting the stop handlers raised ValueError
    ("signal only works in main thread"), a traceback instead of the command. It runs, and the process's handlers
    stay as they were."""
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    result: list = []

    def work():
        try:
            result.append(cli.main(["inspect", str(scene)]))
        except BaseException as exc:  # noqa: BLE001 - what the thread met is the finding
            result.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert result == [0]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
    assert "classes:" in capsys.readouterr().out


def test_a_ctrl_c_while_the_command_sets_itself_up_is_the_one_sentence(scene, capsys, monkeypatch):
    """Ctrl-C in main before the command's own work (the thread plan, Pillow's import) escaped main as a
    KeyboardInterrupt: a traceback, not the sentence and exit 130."""
    import osmis_core.threads as threads_module

    real = threads_module.configure_threads

    def configure(*args, **kwargs):
        _signal_here(signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(threads_module, "configure_threads", configure)
    done = osmis_cli(capsys, "inspect", scene)
    assert done.returncode == 130
    assert done.stderr.strip() == "interrupted: osmis inspect stopped; nothing half-written was left behind"


def test_main_twice_in_a_row_carries_no_stop_and_restores_the_handlers_it_found(scene, tmp_path, capsys, monkeypatch):
    """A first call aborted by a real SIGTERM, a second with no signal: the second finishes (exit 0) and both put
    back the caller's handlers."""

    def mine(signum, frame):
        raise AssertionError("the caller's handler was called")

    previous = signal.signal(signal.SIGINT, mine), signal.signal(signal.SIGTERM, mine)
    try:
        real = gallery_module.to_uint8_images
        monkeypatch.setattr(gallery_module, "to_uint8_images", lambda *a: _signal_here(signal.SIGTERM))
        run = tmp_path / "run"
        trained = osmis_cli(capsys, "train", scene, "--out", run, "--quiet", *tiny_flags(iters=2))
        assert trained.returncode == 0, trained.stderr
        aborted = osmis_cli(capsys, "generate", run, "--out", tmp_path / "g1", "--n", "2")
        assert aborted.returncode == 143, aborted.stderr
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == (mine, mine)
        monkeypatch.setattr(gallery_module, "to_uint8_images", real)
        again = osmis_cli(capsys, "generate", run, "--out", tmp_path / "g2", "--n", "2")
        assert again.returncode == 0, again.stderr
        assert (tmp_path / "g2" / "manifest.json").is_file()
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == (mine, mine)
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])


_IMPORT_INTERRUPTED = """
import os, signal, sys
class StopDuringImport:
    def find_spec(self, name, path=None, target=None):
        if name == "osmis_core.config":
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, StopDuringImport())
import runpy
runpy.run_module("osmis_core", run_name="__main__")
"""

_CTRL_C_AT_EXIT = """
import atexit, os, runpy, signal, time
atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(0.5)))
runpy.run_module("osmis_core", run_name="__main__")
"""


def _python(code: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def test_ctrl_c_while_python_m_osmis_core_loads_is_one_sentence_and_exit_130(scene):
    """Ctrl-C in the first tenth of a second of `python -m osmis_core train ...` (its modules loading): a
    KeyboardInterrupt traceback through the import machinery."""
    done = _python(_IMPORT_INTERRUPTED, "inspect", scene)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip() == "interrupted: osmis stopped before it began; nothing was written"


def test_ctrl_c_while_the_osmis_process_shuts_down_is_no_traceback(scene):
    """The command has finished; a Ctrl-C while Python shuts down (threads joined, atexit callbacks: tqdm's
    monitor) was a KeyboardInterrupt there, printed as "Exception ignored in atexit callback" with a traceback.
    The signal ends the process as its default does (killed by SIGINT: the shell's 130), silently."""
    done = _python(_CTRL_C_AT_EXIT, "inspect", scene)
    assert done.returncode == -signal.SIGINT, done.stderr
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr, done.stderr
    assert "classes:" in done.stdout


def test_a_sigterm_raised_again_as_a_plain_keyboardinterrupt_still_ends_as_terminated(
    trained, tmp_path, capsys, monkeypatch
):
    """Ray's waits turn the interrupt of a signal into a plain KeyboardInterrupt (its check_signals): `osmis batch`
    sent SIGTERM twice said "interrupted" and exited 130, where a job scheduler's SIGTERM is answered with
    "terminated (SIGTERM)" and 143. Here the same conversion in a command without Ray."""

    def converting(*args):
        try:
            _signal_here(signal.SIGTERM)
        except KeyboardInterrupt:
            raise KeyboardInterrupt from None

    monkeypatch.setattr(gallery_module, "to_uint8_images", converting)
    done = osmis_cli(capsys, "generate", trained, "--out", tmp_path / "gal", "--n", "2", "--device", "cpu")
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert done.stderr.strip().endswith(
        "terminated (SIGTERM): osmis generate stopped; nothing half-written was left behind"
    )


def test_a_batch_stopped_by_sigterm_is_not_reported_done_to_a_job_scheduler(tmp_path, capsys, local_ray, monkeypatch):
    """`osmis batch` stopped by a scheduler's SIGTERM (every run checkpointed, the rest left pending) exited 0, as if
    the batch were done; `osmis run` stopped in its training exits 143 for the same reason: the job is unfinished.
    It exits 143, and says that the same command resumes it."""
    from helpers import write_scene

    import osmis_core.batch.driver as driver

    sources = tmp_path / "sources"
    sources.mkdir()
    write_scene(sources).rename(sources / "a")
    real = driver._schedule

    def stopped_first(*args, **kwargs):
        _signal_here(signal.SIGTERM)  # the first: every run stops after its iteration (none started yet)
        return (yield from real(*args, **kwargs))

    monkeypatch.setattr(driver, "_schedule", stopped_first)
    done = osmis_cli(capsys, "batch", sources, "--out", tmp_path / "b", "--quiet", *tiny_flags(iters=2))
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert "stopped in" in done.stderr and "the same command again resumes it" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_an_adam_beta_of_1_is_refused_in_one_sentence_before_anything_is_written(scene, tmp_path, capsys):
    """`--beta1 1` (the range said 0 to 1) passed the config and torch's Adam refused it as the training started:
    ValueError, a traceback. One sentence naming the flag, exit 2, no run folder."""
    for flag in ("--beta1", "--beta2"):
        done = osmis_cli(capsys, "train", scene, "--out", tmp_path / "run", *tiny_flags(iters=2), flag, "1")
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip() == f"error: {flag} must be below 1.0, got 1.0."
        assert not (tmp_path / "run").exists()


def test_a_background_colour_not_of_the_form_rrggbb_is_refused_whatever_the_mask(scene, tmp_path, capsys):
    """`--background-color zzz` was only read by a colour-coded mask: with an indexed mask (or none) the training
    took it and stored it in run.json. Refused in one sentence naming the flag, exit 2, nothing written."""
    done = osmis_cli(
        capsys, "train", scene, "--out", tmp_path / "run", *tiny_flags(iters=2), "--background-color", "zzz"
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "error: --background-color must be a colour of the form #RRGGBB, got 'zzz'."
    assert not (tmp_path / "run").exists()


def test_evaluate_refuses_a_real_mask_of_another_aspect_as_training_does(trained, tmp_path, capsys):
    """`osmis evaluate GALLERY --real photo.png --mask M.png` with a 64x64 mask for a 128x64 photo: training refuses
    that mask (another aspect ratio), evaluate stretched it over the photo and scored mIoU against it, exit 0. One
    sentence naming the mask, exit 2, no metrics written."""
    from helpers import scene_arrays
    from PIL import Image

    gallery = tmp_path / "gal"
    assert osmis_cli(capsys, "generate", trained, "--out", gallery, "--n", "2", "--device", "cpu").returncode == 0
    img, ids = scene_arrays()
    Image.fromarray(img).save(tmp_path / "photo.png")
    Image.fromarray(ids).resize((64, 64), Image.NEAREST).save(tmp_path / "square.png")
    before = folder_bytes(gallery)
    done = osmis_cli(
        capsys,
        "evaluate",
        gallery,
        "--real",
        tmp_path / "photo.png",
        "--mask",
        tmp_path / "square.png",
        "--random-weights",
        "--metrics",
        "miou",
        "--miou-steps",
        "1",
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().endswith(
        f"error: {tmp_path / 'square.png'}: the mask is 64x64 but its image is 128x64 (different aspect ratio)."
    ), done.stderr
    assert folder_bytes(gallery) == before


def test_a_swallowed_stop_leaves_the_gallery_a_stopped_generate_was_to_replace_unchanged(
    trained, tmp_path, capsys, monkeypatch
):
    """SIGTERM's interrupt swallowed where it landed (in the conversion of samples to pixels): the gallery went on
    to its end and replaced the one in --out, while the command said it was terminated (exit 143), where README
    promises that a stopped generate leaves the gallery it was to replace unchanged. Nothing is put in place after
    a stop."""
    gal = tmp_path / "gal"
    assert osmis_cli(capsys, "generate", trained, "--out", gal, "--n", "2", "--device", "cpu").returncode == 0
    before = folder_bytes(gal)
    real = gallery_module.to_uint8_images
    sent: list[int] = []

    def to_pixels(*args, **kwargs):
        if not sent:
            sent.append(signal.SIGTERM)
            try:
                _signal_here(signal.SIGTERM)
            except KeyboardInterrupt:  # the swallowing this test is about, as C code that clears errors does
                pass
        return real(*args, **kwargs)

    monkeypatch.setattr(gallery_module, "to_uint8_images", to_pixels)
    done = osmis_cli(capsys, "generate", trained, "--out", gal, "--n", "3", "--seed", "4", "--device", "cpu")
    assert sent == [signal.SIGTERM]
    assert done.returncode == 143, done.stderr
    assert done.stderr.strip().endswith(
        "terminated (SIGTERM): osmis generate stopped; nothing half-written was left behind"
    )
    assert folder_bytes(gal) == before
    assert _hidden_leftovers(tmp_path) == []


def test_no_stop_of_an_aborted_command_is_raised_in_what_the_process_does_next(trained, tmp_path, capsys, monkeypatch):
    """A library user's process: a command aborted by SIGTERM, then the engine called directly (a gallery written
    through osmis_core's API, which raises a swallowed stop before its swap): the earlier command's stop is not
    raised there."""
    from osmis_core.application.gallery import generate_gallery

    real = gallery_module.to_uint8_images
    monkeypatch.setattr(gallery_module, "to_uint8_images", lambda *a: _signal_here(signal.SIGTERM))
    aborted = osmis_cli(capsys, "generate", trained, "--out", tmp_path / "g1", "--n", "2", "--device", "cpu")
    assert aborted.returncode == 143, aborted.stderr
    monkeypatch.setattr(gallery_module, "to_uint8_images", real)
    out = generate_gallery(trained, tmp_path / "g2", n=2, device="cpu")
    assert (out / "manifest.json").is_file()


def test_a_bad_batch_resource_flag_is_named_with_its_value(tmp_path, capsys):
    """`osmis batch ... --retries -1` answered with the rules of four flags at once ("--cpus-per-run must be a
    number above 0, --gpus-per-run ..., --retries at least 0, and --max-concurrent at least 1."), not which one was
    wrong. The sentence names the flag and the value given; nothing is written."""
    from helpers import write_scene

    sources = tmp_path / "sources"
    sources.mkdir()
    write_scene(sources)
    for flag, value, rule in (
        ("--retries", "-1", "a whole number from 0 to 1,000, got -1"),
        ("--cpus-per-run", "nan", "a number above 0, got nan"),
        ("--gpus-per-run", "-0.5", "a number at least 0, got -0.5"),
        ("--max-concurrent", "0", "at least 1, got 0"),
        ("--n-per-source", "-2", "a whole number from 1 to 100,000, got -2"),
    ):
        done = osmis_cli(capsys, "batch", sources, "--out", tmp_path / "b", *tiny_flags(iters=2), flag, value)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip() == f"error: {flag} must be {rule}.", done.stderr
        assert not (tmp_path / "b").exists()


def test_a_training_started_with_sigint_ignored_keeps_ignoring_it_and_still_stops_on_sigterm(scene, tmp_path):
    """A background job of a shell script (`osmis train ... &` in sh) starts with SIGINT ignored, so that a Ctrl-C
    meant for the script does not stop it; Python keeps it ignored, the `osmis` command took it up and stopped the
    training. It keeps ignoring SIGINT; SIGTERM still stops it after its step with a checkpoint (exit 0)."""
    from helpers import start_osmis, wait_for

    run = tmp_path / "run"
    argv = ["train", scene, "--out", run, "--quiet", *tiny_flags(iters=100000, checkpoint_every=1)]
    proc = start_osmis(*argv, cwd=ROOT, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    checkpoints = run / "checkpoints"

    def reached(step: int) -> bool:  # checkpoints/ keeps the latest few: any of this step or later
        return any(int(p.stem.split("_")[1]) >= step for p in checkpoints.glob("step_*.pt"))

    wait_for(lambda: reached(2), proc, "the second checkpoint", 120)
    proc.send_signal(signal.SIGINT)
    wait_for(lambda: reached(5), proc, "training on after SIGINT", 120)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Ctrl-C (SIGINT) received" not in err and "SIGTERM received" in err and "stopped at step" in err, err


def test_sigterm_while_ray_starts_ends_a_batch_as_terminated(tmp_path, capsys, no_ray, monkeypatch):
    """ray.init sets its own SIGTERM handler while it starts a local Ray (seconds), `sys.exit(signum)`: a job
    scheduler's SIGTERM then ended `osmis batch` with exit 15 and no word. It ends as terminated, exit 143, with the
    one sentence. Here ray.init is Ray's handler and the signal only, so that no Ray is started."""
    import ray
    from helpers import write_scene

    def ray_init(*args, **kwargs):
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))  # what ray.init sets first
        _signal_here(signal.SIGTERM)

    monkeypatch.setattr(ray, "init", ray_init)
    sources = tmp_path / "sources"
    sources.mkdir()
    write_scene(sources)
    done = osmis_cli(capsys, "batch", sources, "--out", tmp_path / "b", "--quiet", *tiny_flags(iters=2))
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert done.stderr.strip().endswith(
        "terminated (SIGTERM): osmis batch stopped; nothing half-written was left behind"
    )


def test_a_second_sigterm_landing_in_the_first_ones_handler_aborts_the_training(scene, tmp_path, capsys, monkeypatch):
    """`kill -TERM PID; kill -TERM PID`: the second signal's handler ran inside the first's, before that one had
    asked the training to stop (it printed first), so the second was taken for a first: the training stopped with
    a checkpoint, exit 0, where a second signal aborts (exit 143)."""
    import osmis_core.training.trainer as trainer_module

    real_words, real_step = cli._stop_words, trainer_module.Trainer.train_step
    sent: list[int] = []

    def words(signum):
        if not sent:
            sent.append(signum)
            _signal_here(signal.SIGTERM)  # the second, while the first's handler runs
        return real_words(signum)

    def step(self, *args, **kwargs):
        if self.step == 1 and not sent:
            os.kill(os.getpid(), signal.SIGTERM)  # the first
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(cli, "_stop_words", words)
    monkeypatch.setattr(trainer_module.Trainer, "train_step", step)
    run = tmp_path / "run"
    done = osmis_cli(capsys, "train", scene, "--out", run, "--quiet", *tiny_flags(iters=6))
    assert sent == [signal.SIGTERM]
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert "stopped at step" not in done.stderr and "terminated (SIGTERM): osmis train stopped" in done.stderr


def _console_script_interrupted() -> str:
    """What the installed `osmis` console script runs (its entry point, read from the package's metadata), with a
    Ctrl-C sent while osmis_core.config loads."""
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="osmis")
    module, function = script.value.split(":")
    return _IMPORT_INTERRUPTED.split("import runpy")[0] + f"from {module} import {function}\nsys.exit({function}())\n"


def test_ctrl_c_while_the_osmis_console_script_loads_is_one_sentence_and_exit_130(scene):
    """Ctrl-C in the first tenth of a second of `osmis train ...`: it was a KeyboardInterrupt traceback through the
    import machinery (the script imported osmis_core.cli itself), where the command answers every other Ctrl-C with
    one sentence. The entry point (osmis_core.entry) now loads the CLI under that answer."""
    done = _python(_console_script_interrupted(), "inspect", scene)
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
