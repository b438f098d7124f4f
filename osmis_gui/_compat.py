"""Work-arounds for defects of the Qt binding that the app runs on.

PySide6 6.12 on CPython 3.11 drops one reference to None on every call of a C++ method returning void (for
example QWidget.update(), QPainter.setPen(), QImage.setColorTable()): it relies on None being immortal, which
is only true from Python 3.12 on. A GUI makes such calls constantly (each repaint makes dozens), so None's
reference count falls steadily and the process aborts with "Fatal Python error: none_dealloc: deallocating
None" when it reaches zero: at exit after a short session, in the middle of a long training otherwise. The
same happens to True and False through other paths ("bool_dealloc"). Until the binding is fixed, these
singletons are made effectively immortal here, as they are in Python >= 3.12.
"""
from __future__ import annotations

import ctypes
import platform
import sys

_MARGIN = 1 << 48


def keep_none_alive() -> bool:
    """Raise the reference counts of None, True, False (and the other singletons) out of reach of the binding's
    stray decrements (CPython < 3.12 only)."""
    if platform.python_implementation() != "CPython" or sys.version_info >= (3, 12):
        return False
    for obj in (None, True, False, Ellipsis, NotImplemented):
        refcnt = ctypes.c_ssize_t.from_address(id(obj))    # ob_refcnt is the first field of every PyObject
        if refcnt.value < _MARGIN:
            refcnt.value += _MARGIN
    return True
