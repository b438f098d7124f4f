"""The data view: image, mask overlay, classes and the training plan; bad input as a sentence."""

from __future__ import annotations

import re

import pytest
from app_steps import configure, load

pytestmark = pytest.mark.gui


def test_data_view_shows_image_mask_classes_and_plan(window, qtbot, scene):
    image, mask = scene
    configure(window, qtbot)
    load(window, qtbot, image)
    d = window.data
    assert d.data_error is None and d.inspect_error is None
    assert d.view.has_image() and d.preview.overlays[0] is not None
    assert d.class_table.rowCount() == 4  # background + 3 shapes
    assert d.report.resolution == (64, 128)
    assert "128 × 64" in d.resolution_label.text()
    assert "n_g=6" in d.blocks_label.text()
    assert d.preview.source["masks"][0].endswith("scene_mask.png")  # found next to the image
    d.opacity.set_value(0.2)
    assert d.view.opacity() == pytest.approx(0.2)
    assert window.training.start_action.isEnabled()


def test_bad_input_is_a_message_not_a_traceback(window, qtbot, tmp_path, scene):
    bad = tmp_path / "broken.png"
    bad.write_text("not an image")
    load(window, qtbot, bad)
    assert window.data.data_error and "broken.png" in window.data.data_error
    assert not window.data.error_label.isHidden()
    assert "Traceback" not in window.data.error_label.text()
    assert not window.training.start_action.isEnabled()

    # a resolution too small for the model: the inspection explains it and training cannot start
    image, _ = scene
    load(window, qtbot, image)
    configure(window, qtbot, max_size=16)
    assert window.data.inspect_error and re.search("max[-_]size", window.data.inspect_error)
    assert not window.training.start_action.isEnabled()
