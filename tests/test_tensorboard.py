"""--tensorboard writes an event file with the losses, the training metrics and the preview grids."""

import pytest
from helpers import tiny_flags

from osmis_core.cli import main

pytest.importorskip("tensorboard")


def test_tensorboard_event_file(scene, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                str(scene),
                "--out",
                str(run),
                "--iters",
                "4",
                "--quiet",
                "--tensorboard",
                *tiny_flags(eval_every=2),
            ]
        )
        == 0
    )
    files = list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert len(files) == 1
    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "scalars": 0}).Reload()
    tags = acc.Tags()
    assert {
        "loss/g_total",
        "loss/d_total",
        "logits/d_real",
        "metrics/diversity",
        "metrics/sifid_proxy",
        "metrics/mask_shares",
        "metrics/class_coverage",
        "metrics/class_coverage/class_0",
        "metrics/class_coverage/class_2",
    } <= set(tags["scalars"])
    assert [e.step for e in acc.Scalars("loss/g_total")] == [1, 2, 3, 4]
    assert [e.step for e in acc.Scalars("metrics/diversity")] == [2, 4]
    assert [e.step for e in acc.Images("preview")] == [2, 4]


def test_missing_tensorboard_is_one_clear_sentence(scene, tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if the package were not installed
    run = tmp_path / "run"
    assert (
        main(["train", str(scene), "--out", str(run), "--iters", "2", "--quiet", "--tensorboard", *tiny_flags()]) == 2
    )
    assert "--tensorboard needs the tensorboard package" in capsys.readouterr().err
    assert not run.exists()  # nothing half-made


def test_resume_purges_what_was_logged_after_the_checkpoint(scene, tmp_path):
    from helpers import TINY
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from osmis_core.application.session import resume_training, start_training
    from osmis_core.config import OsmisConfig
    from osmis_core.events import StepStats

    config = OsmisConfig().replace(**{**TINY, "iters": 6, "checkpoint_every": 4, "tensorboard": True})
    trainer = start_training(config, scene, tmp_path / "run")
    events = trainer.run()
    for event in events:
        if isinstance(event, StepStats) and event.step == 5:
            break
    events.close()  # the process ends here: step 5 was logged, the last checkpoint is step 4
    list(resume_training(tmp_path / "run").run(resumed=True))
    acc = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"scalars": 0}).Reload()
    assert [e.step for e in acc.Scalars("loss/g_total")] == [1, 2, 3, 4, 5, 6]
