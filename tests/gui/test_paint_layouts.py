"""Where a layout comes from and goes: the training mask (at start), a blank canvas, a file; Save layout writes an
indexed PNG of the project's palette that opens again unchanged; an unreadable file is one sentence."""

import numpy as np
import pytest
from paint_helpers import stroke
from PIL import Image

from osmis_core.application.render import Renderer
from osmis_core.application.runfolder import RunFolder
from osmis_core.models.visual import palette

pytestmark = pytest.mark.gui


def test_training_mask_blank_file_and_save(paint, qtbot, renderer_run, tmp_path):
    renderer = Renderer.load(renderer_run)
    mask = RunFolder(renderer_run).read_run_json()["data"]["mask_path"]
    training = renderer.read_editable_layout(mask)
    assert np.array_equal(paint.layout_model.ids, training)
    assert paint.class_list.count() == renderer.num_classes
    paint.start_blank()
    assert paint.layout_model.shape == renderer.size and not paint.layout_model.ids.any()
    paint.set_class(2)
    stroke(qtbot, paint, [(10, 10), (30, 10)])
    drawn = paint.layout_model.ids.copy()
    assert (drawn == 2).any()
    path = tmp_path / "drawn.png"
    assert paint.save_layout(str(path))
    with Image.open(path) as im:
        assert im.mode == "P" and np.array_equal(np.asarray(im), drawn)
        assert np.array_equal(np.asarray(im.getpalette()[:12]).reshape(4, 3), palette()[:4])
    paint.start_from_training_mask()
    assert np.array_equal(paint.layout_model.ids, training)
    assert paint.open_layout_file(str(path))
    assert np.array_equal(paint.layout_model.ids, drawn)
    bad = tmp_path / "bad.png"
    bad.write_text("no picture")
    assert not paint.open_layout_file(str(bad))
    assert "bad.png" in paint.error_label.text() and "Traceback" not in paint.error_label.text()
    assert np.array_equal(paint.layout_model.ids, drawn)
