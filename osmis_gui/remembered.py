"""Values the app remembers between starts (QSettings), read back so that a settings file edited by hand, written
by another version or cut short leaves the app starting with the default instead of a traceback at every start."""

from __future__ import annotations

import math

from PySide6.QtCore import QByteArray, QSettings


def remembered_int(settings: QSettings, key: str, default: int, lo: int, hi: int) -> int:
    """The whole number under `key`, within lo..hi (a spin box's setValue overflows past 2**31 - 1); the default
    when it is missing or not a whole number. Read from text, as the seed is written (QSettings takes no int past
    2**63 - 1)."""
    try:
        value = int(str(settings.value(key, default)).strip())
    except ValueError:
        return default
    return min(max(value, lo), hi)


def remembered_float(settings: QSettings, key: str, default: float, lo: float, hi: float) -> float:
    """The finite number under `key`, within lo..hi; the default when it is missing, not a number, NaN or
    infinite."""
    try:
        value = float(str(settings.value(key, default)).strip())
    except ValueError:
        return default
    return min(max(value, lo), hi) if math.isfinite(value) else default


def remembered_bytes(settings: QSettings, key: str) -> QByteArray | None:
    """The saved geometry or state under `key`, or None when it is missing or not bytes (the restore functions
    take bytes only)."""
    value = settings.value(key)
    return value if isinstance(value, (QByteArray, bytes, bytearray)) else None
