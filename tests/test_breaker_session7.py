"""Breaker session 7 (today's changes: quick's lr_d with rollback, resume after a rollback, options without effect,
best.pt, health stops, the latent walk's limits, layout messages of renderer runs): one small test per finding (tiny
settings, CPU); a finding still open is an xfail(strict=True) test that asserts the right behaviour, so it passes
once the finding is fixed."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from helpers import TINY, CollapseOnceAt, tiny_flags, write_scene

from osmis_core.application.session import resume_training, start_training
from osmis_core.cli import main
from osmis_core.config import OsmisConfig
from osmis_core.events import RolledBack
from osmis_core.training.health import DiversityCollapse


@pytest.fixture(scope="module")
def _rolled_back_base(tmp_path_factory):
    """8 tiny iterations at lr_d 2e-4 with a collapse at the evaluation of step 4: rolled back to step 2 with lr_d
    halved to 1e-4, then trained to the end. Trained once for this file; returns the run folder."""
    root = tmp_path_factory.mktemp("rolled_back")
    config = OsmisConfig().replace(**{**TINY, "iters": 8, "eval_every": 4, "on_collapse": "rollback"})
    trainer = start_training(config, write_scene(root), root / "run")
    trainer.monitor.health.collapse = CollapseOnceAt(4)
    events = list(trainer.run())
    assert [(e.step, e.to_step) for e in events if isinstance(e, RolledBack)] == [(4, 2)]
    assert trainer.opt_d.param_groups[0]["lr"] == pytest.approx(1e-4)
    return root / "run"


@pytest.fixture
def rolled_back_run(_rolled_back_base, tmp_path):
    """tmp_path/run: a copy of that run for one test, which resumes it."""
    return Path(shutil.copytree(_rolled_back_base, tmp_path / "run"))


def test_lr_d_on_resume_replaces_the_halved_rate_even_when_it_equals_the_configs(rolled_back_run):
    run = rolled_back_run
    trainer = resume_training(run, {"iters": 10, "lr_d": 2e-4})  # osmis train RUN --resume --lr-d 2e-4
    assert trainer.opt_d.param_groups[0]["lr"] == pytest.approx(2e-4)


def test_a_learning_rate_change_on_resume_names_the_rate_it_replaces(rolled_back_run):
    run = rolled_back_run
    resume_training(run, {"iters": 10, "lr_d": 5e-5})
    changes = json.loads((run / "run.json").read_text())["resume_changes"]
    change = next(c for c in changes if c["option"] == "lr_d")
    assert change["from"] == pytest.approx(1e-4)  # the rate the run trained with, after the rollback halved it


def _run_made_before_today(root, **saved):
    """A 2-iteration run whose run.json and checkpoint hold options that today's rules refuse together (as a run
    started before them, 2026-11-30, holds them): `saved` flat option -> value written into both."""
    config = OsmisConfig().replace(**{**TINY, "iters": 2, "eval_every": 0, "keep_best": "none", "augment": False})
    list(start_training(config, write_scene(root), root / "run").run())
    run = root / "run"
    info = json.loads((run / "run.json").read_text())
    path = run / "checkpoints" / "step_0000002.pt"
    state = torch.load(path, map_location="cpu", weights_only=False)
    for nested in (info["config"], state["config"]):
        for name, value in saved.items():
            group = next(g for g, opts in nested.items() if isinstance(opts, dict) and name in opts)
            nested[group][name] = value
    (run / "run.json").write_text(json.dumps(info))
    torch.save(state, path)
    return run


def test_a_run_started_before_the_no_effect_rule_can_still_be_resumed(tmp_path, capsys):
    run = _run_made_before_today(tmp_path, p_aug=0.5)
    assert main(["train", str(run), "--resume", "--iters", "4", "--quiet"]) == 0, capsys.readouterr().err


def test_the_remedy_the_keep_best_refusal_names_works_on_resume(tmp_path, capsys):
    run = _run_made_before_today(tmp_path, keep_best="diversity", augment=True)
    assert main(["train", str(run), "--resume", "--iters", "4", "--eval-every", "2", "--quiet"]) == 0, (
        capsys.readouterr().err
    )


def test_resume_with_eval_every_0_and_keep_best_none_is_accepted(tmp_path, capsys):
    """Works: the two resumable options changed together leave nothing without effect."""
    run = tmp_path / "run"
    args = ["train", str(write_scene(tmp_path)), "--out", str(run), "--iters", "2", "--quiet"]
    assert main([*args, *tiny_flags(eval_every=2, keep_best="diversity")]) == 0
    assert main(["train", str(run), "--resume", "--iters", "4", "--eval-every", "0", "--keep-best", "none"]) == 0


README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_gives_the_main_jobs_training_time_as_the_preset_table_does():
    text = README.read_text()
    main_job = text[text.index("## The two commands") : text.index("```bash")]
    assert "10-15 minutes" in main_job or "10 to 15 minutes" in main_job


def test_readme_main_job_mask_shares_matches_todays_quick():
    text = README.read_text()
    assert "ends with `mask_shares` 0.026" not in text


class _CollapsedAfterStep2(DiversityCollapse):
    """The default detector fed a scripted diversity: healthy up to step 2, collapsed from step 3 on, so that every
    rollback (to the checkpoint of step 2) meets the collapse again at the next evaluation."""

    def __init__(self):
        super().__init__(patience=1, after_healthy=False)

    def update(self, step, diversity):
        return super().update(step, 1.0 if step <= 2 else 0.0)


def _fault_after_three_rollbacks(tmp_path, monkeypatch, command, *extra):
    import osmis_core.training.monitor as monitor

    monkeypatch.setattr(monitor, "DiversityCollapse", _CollapsedAfterStep2)
    run = tmp_path / "run"
    flags = tiny_flags(eval_every=2, bernoulli_warmup=0)
    args = [command, str(write_scene(tmp_path)), "--out", str(run), "--iters", "8", "--quiet", *extra, *flags]
    code = main([*args, "--on-collapse", "rollback"])
    assert len(json.loads((run / "run.json").read_text())["rollbacks"]) == 3  # README: then a further fault stops
    return run, code


def test_train_stopped_by_a_fault_after_three_rollbacks_is_a_failure(tmp_path, capsys, monkeypatch):
    _, code = _fault_after_three_rollbacks(tmp_path, monkeypatch, "train")
    err = capsys.readouterr().err
    assert code == 2 and "health check" in err and "step 4" in err and "step_0000002.pt" in err


def test_run_stopped_by_a_fault_after_three_rollbacks_is_a_failure(tmp_path, capsys, monkeypatch):
    run, code = _fault_after_three_rollbacks(tmp_path, monkeypatch, "run", "--n", "2")
    err = capsys.readouterr().err
    assert code == 2 and "(checkpoint saved)" not in err and "health check" in err
    assert sorted(p.name for p in (run / "checkpoints").glob("step_*.pt")) == ["step_0000002.pt"]


def test_renderer_p_aug_without_augmentation_is_refused(tmp_path, capsys):
    from test_renderer_training import tiny_renderer_flags

    run = tmp_path / "run"
    args = ["train", str(write_scene(tmp_path)), "--out", str(run), "--quiet", *tiny_renderer_flags(iters=2)]
    assert main([*args, "--no-augment", "--p-aug", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "--p-aug" in err and "--no-augment" in err and err.count("\n") == 1
    assert not run.exists()


def test_a_source_refusal_names_the_option_the_source_wrote():
    from osmis_core.errors import ConfigError

    with pytest.raises(ConfigError) as refused:
        OsmisConfig().replace(p_aug="adaptive", augment=False)  # as run_batch applies a manifest's options
    assert "p_aug" in str(refused.value)


def test_resume_refuses_a_typed_keep_best_without_evaluations_as_a_new_run_does(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", str(write_scene(tmp_path)), "--out", str(run), "--iters", "2", "--quiet"]
    assert main([*args, *tiny_flags(eval_every=0)]) == 0
    capsys.readouterr()
    assert main(["train", str(run), "--resume", "--iters", "4", "--keep-best", "sifid", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--keep-best" in err and "eval" in err and err.count("\n") == 1
