"""The Paint page says only the latest outcome: a layout saved, then a save refused (the run's own run.json) had
left "Layout saved to …" in the status line below the canvas beside "The layout was not saved: …" above it."""

import pytest

pytestmark = pytest.mark.gui


def test_a_refused_save_after_a_saved_one_leaves_no_saved_status(paint, renderer_run, tmp_path):
    assert paint.save_layout(str(tmp_path / "layout.png"))
    assert paint.status_label.text().startswith("Layout saved to ")
    assert not paint.save_layout(str(renderer_run / "run.json"))
    assert paint.error_label.text().startswith("The layout was not saved: ")
    assert "saved to" not in paint.status_label.text(), paint.status_label.text()
    assert paint.save_layout(str(tmp_path / "again.png"))  # and a later success clears the refusal
    assert paint.error_label.text() == "" and paint.status_label.text().startswith("Layout saved to ")


def test_a_refused_gallery_name_after_a_saved_layout_leaves_no_saved_status(paint, tmp_path):
    assert paint.save_layout(str(tmp_path / "layout.png"))
    paint.gallery_edit.setText("a/b")
    paint.add_to_gallery()
    assert paint.error_label.text().startswith("Add to gallery: ")
    assert paint.status_label.text() == ""
