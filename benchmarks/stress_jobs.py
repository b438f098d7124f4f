"""Stress of the app's background jobs (osmis_gui.tasks.Jobs): many short generator jobs whose answers the GUI
thread delivers while the pool threads that ran them are still letting go of them.

Each job's pool thread sleeps `--linger-ms` as the job's last signal leaves it, so the GUI thread has usually
handled every answer of the job before the pool thread drops its reference: the order in which a finished job
lost its signal object in the pool thread, and the app crashed (CI, 2026-12-01: exit 139 in the GUI thread's event
loop). Prints one line with the counts and exits 0 when every answer arrived; a crash ends the process (139).

    QT_QPA_PLATFORM=offscreen python benchmarks/stress_jobs.py --jobs 30000
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", type=int, default=30000, help="number of jobs (default 30000)")
    p.add_argument("--linger-ms", type=float, default=0.5, help="pool thread's pause after a job's last signal")
    p.add_argument("--running", type=int, default=4, help="jobs started at once at most")
    args = p.parse_args(argv)
    faulthandler.enable()

    from PySide6.QtCore import QObject, Qt, QThreadPool, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from osmis_gui import tasks

    class State(QObject):  # the services Jobs asks of the app state
        def report_error(self, title, exc, popup=False):
            return str(exc)

        def report_warning(self, args):
            print(f"warning: {args[0]}")

    jobs = tasks.Jobs(State())
    count = {"started": 0, "returned": 0, "yielded": 0}

    def job(i):
        yield from range(5)
        return i

    def linger(*_):
        time.sleep(args.linger_ms / 1000)

    def returned(_):
        count["returned"] += 1

    def yielded(_):
        count["yielded"] += 1

    def tick():
        if count["started"] >= args.jobs:
            if count["returned"] >= args.jobs:
                app.quit()
            return
        if QThreadPool.globalInstance().activeThreadCount() >= args.running:
            return
        count["started"] += 1
        worker = jobs.start(job, count["started"], returned=returned, yielded=yielded, finished=lambda: None)
        worker.signals._finished.connect(linger, Qt.ConnectionType.DirectConnection)  # superqt's last signal

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(0)
    start = time.perf_counter()
    app.exec()
    tasks.wait_for_all()
    print(
        f"{count['started']} jobs, {count['returned']} answers, {count['yielded']} progress reports "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 0 if count["returned"] == args.jobs else 1


if __name__ == "__main__":
    sys.exit(main())
