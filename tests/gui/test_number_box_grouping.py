"""A number box of the app (the Settings page's whole-number options, the Gallery's samples, the Paint page's brush
and variants) takes a group separator only where it shows one, every three digits: '1,0' had been read as 10 and
'10,00' as 1000, silently another number (as Python's int() reads '1_0', which the engine refuses)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

pytestmark = pytest.mark.gui


def _type(qtbot, box, text: str) -> None:
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), text)
    qtbot.keyClick(box, Qt.Key.Key_Return)


@pytest.mark.parametrize("where", ["settings", "gallery"])
def test_a_misplaced_group_separator_is_not_read_as_another_number(window, qtbot, where):
    box = window.settings_page.editors["iters"].widget if where == "settings" else window.gallery.n_spin
    box.setFocus()
    box.setValue(5)
    sep = box.locale().groupSeparator()
    for text in (f"1{sep}0", f"10{sep}00"):
        _type(qtbot, box, text)
        assert box.value() == 5 and box.lineEdit().text() == "5", (text, box.value())
    _type(qtbot, box, f"1{sep}000")
    assert box.value() == 1000
    _type(qtbot, box, "12")
    assert box.value() == 12
