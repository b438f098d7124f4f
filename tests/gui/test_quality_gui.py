"""Training metrics curves, the adapted p_aug and health warnings on the training page (real widgets, offscreen)."""

import pytest

from osmis_core.events import HealthEvent, RolledBack, StepEval, StepStats, TrainingFinished

pytestmark = pytest.mark.gui


def _stats(step, p_aug):
    return StepStats(step, 100, {"g_total": 1.0, "d_total": 2.0}, 0.5, -0.5, 3.0, 1.0, 30.0, {"p_aug": p_aug})


def test_metrics_curves_p_aug_and_health_warning(window, qtbot):
    t = window.training
    window.tabs.setCurrentWidget(t)
    for step in (10, 20, 30, 40):
        t.handle_event(_stats(step, 0.7 + step / 1000))
    t.handle_event(StepEval(20, {"diversity": 0.3, "mask_shares": 0.1, "sifid_proxy": 4.0}, best=True))
    t.handle_event(StepEval(40, {"diversity": 0.2, "mask_shares": 0.2, "sifid_proxy": 3.5}, best=True))
    plots = t.plots
    assert plots.steps == [10, 20, 30, 40]  # loss rows only
    assert plots.values["diversity"] == ([20.0, 40.0], [0.3, 0.2])
    assert plots.values["p_aug"][1] == pytest.approx([0.71, 0.72, 0.73, 0.74])
    plots.redraw(max_new=None)
    assert {"diversity", "mask_shares", "p_aug", "sifid_proxy"} <= set(plots.curves)
    assert plots.plots[3].isVisible() and plots.plots[4].isVisible()
    assert "new best checkpoint" in t.log_view.toPlainText()

    assert t.health_label.isHidden()
    t.handle_event(HealthEvent(40, "diversity_collapse", "diversity collapse at step 40: ...", "rollback"))
    assert not t.health_label.isHidden() and "diversity collapse" in t.health_label.text()
    assert "warning: diversity collapse" in t.log_view.toPlainText()
    t.handle_event(RolledBack(40, 20, 1e-4, "health check at step 40"))
    assert plots.steps == [10, 20] and plots.values["diversity"] == ([20.0], [0.3])
    assert "rolled back from iteration 40" in t.log_view.toPlainText()


def test_reopened_run_rows_with_evaluations(window):
    plots = window.training.plots
    plots.set_rows(
        [
            {"step": 5, "g_total": 1.0, "d_real": 0.1},
            {"step": 5, "event": "eval", "diversity": 0.3, "sifid": 2.0, "best": True},
            {"step": 5, "event": "health", "kind": "d_spike", "message": "m", "action": "warn"},
            {"step": 10, "g_total": 0.9, "d_real": 0.2},
        ]
    )
    assert plots.steps == [5, 10]
    assert set(plots.values) == {"g_total", "d_real", "diversity", "sifid"}


def test_class_coverage_is_a_training_metric_curve(window):
    """The engine's metric keys (events.EVAL_METRICS) decide the plot: class_coverage joins the training metrics;
    its per-class list in the eval row is not a curve."""
    window.tabs.setCurrentWidget(window.training)
    plots = window.training.plots
    plots.set_rows(
        [
            {"step": 5, "g_total": 1.0},
            {
                "step": 5,
                "event": "eval",
                "diversity": 0.3,
                "class_coverage": 0.0,
                "class_coverage_per_class": [1.0, 1.0, 0.0],
                "best": False,
            },
        ]
    )
    assert set(plots.values) == {"g_total", "diversity", "class_coverage"}
    assert "class_coverage" in plots.curves and plots.plots[3].isVisible()
    assert plots.curves["class_coverage"] in plots.plots[3].listDataItems()


def test_schedule_factor_and_r1_term_have_their_plots(window):
    """lr_scale (--lr-decay-from) is drawn with the training metrics, d_r1 (--r1-gamma) with D's losses."""
    window.tabs.setCurrentWidget(window.training)
    plots = window.training.plots
    plots.set_rows([{"step": 10, "g_total": 1.0, "d_total": 1.5, "d_r1": 0.02, "lr_scale": 0.5}])
    assert plots.curves["lr_scale"] in plots.plots[3].listDataItems() and plots.plots[3].isVisible()
    assert plots.curves["d_r1"] in plots.plots[1].listDataItems()


def test_gallery_latent_walk_button(window, qtbot, tmp_path):
    import av
    from gui_helpers import TINY_GUI, make_scene

    from osmis_core.application.session import start_training
    from osmis_core.config import OsmisConfig

    image, _ = make_scene(tmp_path / "data")
    trainer = start_training(OsmisConfig().replace(**{**TINY_GUI, "iters": 3}), image, tmp_path / "run")
    list(trainer.run())
    window.open_path(str(tmp_path / "run"))
    g = window.gallery
    qtbot.waitUntil(lambda: g.animate_action.isEnabled(), timeout=60_000)
    g.animate_action.trigger()
    qtbot.waitUntil(lambda: g.last_walk is not None or g.last_error is not None, timeout=120_000)
    assert g.last_error is None
    assert g.last_walk.endswith("walks/step_0000003-seed0.mp4") and "Latent walk written" in g.status_label.text()
    with av.open(g.last_walk) as container:
        assert sum(1 for _ in container.decode(video=0)) == 120
    qtbot.waitUntil(lambda: g.animate_action.isEnabled(), timeout=60_000)


def test_gallery_offers_the_best_checkpoint_and_walks_from_it(window, qtbot, tmp_path):
    from gui_helpers import TINY_GUI, make_scene

    from osmis_core.application.session import start_training
    from osmis_core.config import OsmisConfig

    image, _ = make_scene(tmp_path / "data")
    config = OsmisConfig().replace(**{**TINY_GUI, "iters": 3, "eval_every": 2, "keep_best": "diversity"})
    list(start_training(config, image, tmp_path / "run").run())
    window.open_path(str(tmp_path / "run"))
    g = window.gallery
    combo = g.checkpoint_combo
    qtbot.waitUntil(lambda: combo.count() > 2, timeout=60_000)  # the run is read in a worker
    assert combo.itemText(1) == "best (2)" and combo.itemData(1) == "best"
    combo.setCurrentIndex(1)
    qtbot.waitUntil(lambda: g.animate_action.isEnabled(), timeout=60_000)
    g.animate_action.trigger()
    qtbot.waitUntil(lambda: g.last_walk is not None or g.last_error is not None, timeout=120_000)
    assert g.last_error is None and g.last_walk.endswith("walks/step_0000002-seed0.mp4")
    qtbot.waitUntil(lambda: g.animate_action.isEnabled() and g.generate_action.isEnabled(), timeout=60_000)
    g.n_spin.setValue(2)
    with qtbot.waitSignal(g.loaded, timeout=120_000):
        g.generate_action.trigger()  # a gallery from the best checkpoint too
    assert g.last_error is None and g.manifest["checkpoint_step"] == 2


def test_a_health_stop_is_shown_as_a_failure_of_the_run(window, tmp_path):
    t = window.training
    t.handle_event(HealthEvent(40, "diversity_collapse", "diversity collapse at step 40: nearly identical", "stop"))
    t.handle_event(TrainingFinished(40, tmp_path, True))
    assert t.speed_label.text() == "Stopped by a health check at iteration 40."
    assert "diversity collapse at step 40" in t.error_label.text() and t.error_label.isVisibleTo(t)
