"""Measures how responsive the GUI thread is: a fast QTimer notes the longest gap between its ticks."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer


class StallProbe(QObject):
    """`worst_ms` is the longest time the event loop was busy beyond the timer interval while running."""

    def __init__(self, interval_ms: int = 10, parent: QObject | None = None):
        super().__init__(parent)
        self.interval_ms = interval_ms
        self.worst_ms = 0.0
        self.ticks = 0
        self._last: float | None = None
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.worst_ms, self.ticks, self._last = 0.0, 0, None
        self._timer.start()

    def stop(self) -> float:
        self._timer.stop()
        return self.worst_ms

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.worst_ms = max(self.worst_ms, (now - self._last) * 1000.0 - self.interval_ms)
        self._last = now
        self.ticks += 1
