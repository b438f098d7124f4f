"""The training page's curves and log: legends beside (not over) the curves, a reopened log shown at its end."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def test_legends_do_not_cover_the_curves(qtbot):
    from osmis_gui.training_widgets import LossPlots

    plots = LossPlots()
    qtbot.addWidget(plots)
    plots.resize(500, 600)
    plots.show()
    rows = [
        {
            "step": s,
            "g_total": 1.0 + s,
            "g_adv_content": 0.5,
            "g_diversity": 0.1,
            "d_total": 2.0,
            "d_real_content": 1.0,
            "d_real": 0.3,
            "d_fake": -0.3,
            "p_aug": 0.7,
        }
        for s in range(1, 30)
    ]
    rows += [
        {"step": s, "event": "eval", "diversity": 0.3, "mask_shares": 0.1, "sifid_proxy": 2.0, "best": True}
        for s in range(5, 30, 5)
    ]  # the metric plots appear with their first curve
    plots.set_rows(rows)
    qtbot.wait(300)  # layouts settle
    shown = [p for p in plots.plots if not p.isHidden()]  # the metrics plots appear with their first curve
    assert len(shown) == 5  # G and D losses, D logits, metrics, SIFID
    for p in shown:
        legend = p.plotItem.legend
        assert legend.items, "every plot shown has a legend"
        view = p.plotItem.vb.sceneBoundingRect()
        box = legend.sceneBoundingRect()
        assert box.width() > 20 and not box.intersects(view), (box, view)
        assert p.plotItem.sceneBoundingRect().contains(box)  # and it is on screen, inside the plot


def test_reopened_log_shows_its_end(window, qtbot, tmp_path):
    """A run reopened while another tab is shown: the log opens scrolled to its last line."""
    from osmis_gui.jobs import RunSnapshot

    t = window.training
    window.tabs.setCurrentIndex(0)
    assert window.tabs.currentWidget() is not t
    text = "\n".join(f"line {i}" for i in range(2000))
    t.load_run(RunSnapshot(str(tmp_path), {}, [], [], None, [], [], text))
    window.tabs.setCurrentWidget(t)
    qtbot.wait(100)
    bar = t.log_view.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()
