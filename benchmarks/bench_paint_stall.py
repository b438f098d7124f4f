"""Worst event-loop stall of the app while painting on the Paint page and rendering on the CPU (issue 14: under
100 ms), measured like the training page's (osmis_gui.probe.StallProbe: a 10 ms timer notes its longest late tick).

Usage: QT_QPA_PLATFORM=offscreen python benchmarks/bench_paint_stall.py [--run RENDERER_RUN] [--seconds 60]
       [--variants 4] [--json OUT.json]
Opens the run in the real main window on the Paint tab and paints with real mouse events (QTest): strokes of
0.5 s (one move every 16 ms, as a mouse sends them) separated by pauses of 0.6 s, so that the debounced renders
(the current photo, then the strip of variants) run in their worker while the next stroke is drawn. Without --run
a tiny renderer is trained first (2 iterations; checks the script, the figure means nothing). For the README figure
give a renderer trained with the quick preset on ../shared/data/example_image on a quiet machine:
    python -m osmis_core train ../shared/data/example_image --model renderer --preset quick --out /tmp/r
    python benchmarks/bench_paint_stall.py --run /tmp/r --seconds 60
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "gui"))

from PySide6.QtCore import QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

STROKE_S, PAUSE_S, MOVE_MS = 0.5, 0.6, 16


def tiny_renderer(work: Path) -> Path:
    from gui_helpers import TINY_RENDERER_GUI, make_scene

    from osmis_core.application.session import start_training
    from osmis_core.config import build_config

    image, mask = make_scene(work / "data")
    trainer = start_training(build_config(overrides={**TINY_RENDERER_GUI, "iters": 2}), image, work / "run", mask)
    list(trainer.run())
    return work / "run"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", help="renderer run folder (default: a tiny one trained here)")
    p.add_argument("--seconds", type=float, default=60.0, help="how long to paint (default 60)")
    p.add_argument("--variants", type=int, default=4, help="variants in the strip (default 4)")
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args()

    app = QApplication.instance() or QApplication([sys.argv[0]])
    from osmis_core.threads import configure_threads

    configure_threads(None)  # what the app's entry point does
    from osmis_gui import startup, tasks
    from osmis_gui.main_window import MainWindow
    from osmis_gui.probe import StallProbe

    work = Path(tempfile.mkdtemp(prefix="osmis-paint-bench-"))
    run = Path(args.run) if args.run else tiny_renderer(work)
    startup.tune_process()  # as run_app does
    win = MainWindow(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    startup.warm_up(win.state)
    win.resize(1440, 900)
    win.show()
    page = win.paint

    def wait(cond, timeout=600.0):
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise TimeoutError("the Paint page did not reach the expected state")
            app.processEvents()
            time.sleep(0.005)

    win.open_run(str(run))
    wait(lambda: page.loaded is not None and page.is_idle() and 0 in page.render_images)
    wait(lambda: win.state.metrics_checked, 300)  # the start-up imports are done, as for the training figure
    win.tabs.setCurrentWidget(page)
    page.k_spin.setValue(args.variants)
    wait(page.is_idle)
    page.set_tool("brush")
    page.size_spin.setValue(max(2, page.layout_model.shape[0] // 24))
    h, w = page.layout_model.shape
    canvas = page.canvas
    state = {"t0": time.perf_counter(), "drawing": False, "strokes": 0, "moves": 0, "next": 0.0}
    n_classes = page.renderer.num_classes

    def robot() -> None:
        t = time.perf_counter() - state["t0"]
        phase = t % (STROKE_S + PAUSE_S)
        # a wandering path over the layout
        x = (0.5 + 0.4 * math.sin(0.9 * t)) * (w - 1)
        y = (0.5 + 0.4 * math.sin(1.3 * t + 1.0)) * (h - 1)
        pos = canvas.widget_pos(x, y)
        if phase < STROKE_S:
            if not state["drawing"]:
                page.set_class(1 + state["strokes"] % (n_classes - 1))
                QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
                state["drawing"] = True
                state["strokes"] += 1
            else:
                QTest.mouseMove(canvas, pos)
                state["moves"] += 1
        elif state["drawing"]:
            QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
            state["drawing"] = False

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(MOVE_MS)
    timer.timeout.connect(robot)
    page.render_seconds.clear()
    rendered = {"n": 0}
    page.rendered.connect(lambda i: rendered.__setitem__("n", rendered["n"] + 1))
    probe = StallProbe(10)
    probe.start()
    timer.start()
    wait(lambda: time.perf_counter() - state["t0"] > args.seconds, args.seconds + 60)
    timer.stop()
    if state["drawing"]:
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton)
    wait(page.is_idle)
    worst = probe.stop()
    seconds = sorted(page.render_seconds)
    result = {
        "run": str(run),
        "layout": [h, w],
        "device": str(page.renderer.device),
        "seconds": args.seconds,
        "strokes": state["strokes"],
        "mouse_moves": state["moves"],
        "renders_shown": rendered["n"],
        "render_s_median": seconds[len(seconds) // 2] if seconds else None,
        "render_s_max": seconds[-1] if seconds else None,
        "worst_stall_ms": round(worst, 1),
        "probe_ticks": probe.ticks,
        "variants": args.variants,
    }
    print(json.dumps(result, indent=1))
    print(
        f"worst event-loop stall while painting and rendering: {worst:.1f} ms over {probe.ticks} ticks "
        f"({state['strokes']} strokes, {rendered['n']} renders shown, median render "
        f"{result['render_s_median'] or float('nan'):.3f} s)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    win.close()
    tasks.wait_for_all(60_000)
    startup.release()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
