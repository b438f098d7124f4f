"""The Qt binding the app runs on keeps the reference counts of None, True and False: PySide6/shiboken6 6.12.0
dropped a reference to None on every call of a void C++ method on CPython < 3.12 (a long session aborted with
'Fatal Python error: none_dealloc'), so setup.cfg excludes that release instead of patching the interpreter."""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.gui


def test_void_calls_keep_none_true_false_alive(window):
    from PySide6.QtGui import QImage

    image = QImage(4, 4, QImage.Format.Format_Indexed8)
    before = {name: sys.getrefcount(obj) for name, obj in (("None", None), ("True", True), ("False", False))}
    for _ in range(20000):
        window.update()  # void C++ methods, as every repaint calls them
        image.setColorTable([0, 0])
    after = {name: sys.getrefcount(obj) for name, obj in (("None", None), ("True", True), ("False", False))}
    for name in before:
        assert after[name] > before[name] - 1000, f"the binding drops references to {name}"
    assert sys.getrefcount(None) < 2**40 or sys.version_info >= (3, 12)  # nothing inflated them
