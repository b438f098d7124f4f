"""Save screenshots of the OSMIS Studio window in each state to docs/screenshots/*.png (offscreen grab).

    python scripts/screenshots.py --run RUN [--out docs/screenshots] [--renderer RUN]
    python scripts/screenshots.py [--iters 300] [--data PATH] [--out docs/screenshots] [--renderer RUN]

With --run, the app opens an existing run folder as `osmis gui RUN` does (its settings, data, curves, previews,
log and galleries) and captures the finished run: README's screenshots come from the main job's run
(`osmis run datasets/example_scene --preset quick --out RUN`), which shows real structure.
Without --run, it uses ../shared/data/example_image when present (else a synthetic image with a 4-class mask),
trains a small model on the CPU for --iters iterations while the window shows its progress, then generates a
gallery, and prints the worst event-loop stall measured during training.
States captured: data.png (data loaded), settings.png, training.png (curves + preview), gallery.png (thumbnails
+ large view), and with --renderer (a renderer run, e.g. trained with `osmis train DATA --model renderer --preset
quick`) paint.png: the training layout with a painted edit, its render and the strip of variants.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import QEvent, QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def synthetic_scene(folder: Path) -> Path:
    """A 320x192 picture with a few coloured shapes and its indexed mask (<stem>_mask.png)."""
    folder.mkdir(parents=True, exist_ok=True)
    h, w = 192, 320
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w]
    img = (rng.random((h, w, 3)) * 25 + np.array([95, 150, 200])).astype(np.uint8)
    img[yy > 130] = (rng.random(((yy > 130).sum(), 3)) * 25 + np.array([70, 140, 60])).astype(np.uint8)
    ids = np.zeros((h, w), np.uint8)
    ids[yy > 130] = 1
    for cx, cy, r in ((60, 110, 28), (170, 100, 36), (265, 115, 24)):
        tree = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
        img[tree] = (30, 100, 40)
        ids[tree] = 2
    sun = (xx - 280) ** 2 + (yy - 35) ** 2 <= 18**2
    img[sun], ids[sun] = (250, 220, 60), 3
    Image.fromarray(img).save(folder / "scene.png")
    m = Image.fromarray(ids, "P")
    m.putpalette([0, 0, 0, 0, 255, 0, 0, 128, 0, 255, 255, 0] + [0] * (252 * 3))
    m.save(folder / "scene_mask.png")
    return folder / "scene.png"


def paint_shot(win, renderer_run: str, wait, shot) -> None:
    """The Paint page with an edit painted by real mouse events: a band of class 1 across the lower third."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    page = win.paint
    win.open_run(renderer_run)
    wait(lambda: page.loaded is not None and page.is_idle() and 0 in page.render_images)
    win.tabs.setCurrentWidget(page)
    wait(page.is_idle)
    h, w = page.layout_model.shape
    page.set_tool("brush")
    page.set_class(min(1, page.renderer.num_classes - 1))
    page.size_spin.setValue(max(2, h // 16))
    c = page.canvas
    QTest.mousePress(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, c.widget_pos(w * 0.15, h * 0.7))
    for i in range(1, 21):
        QTest.mouseMove(c, c.widget_pos(w * (0.15 + 0.035 * i), h * (0.7 - 0.1 * (i % 2))))
    QTest.mouseRelease(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, c.widget_pos(w * 0.85, h * 0.7))
    wait(lambda: page.is_idle() and len(page.render_images) > len(page.noise.slots))
    shot("paint", page)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", help="open this existing run folder (with run.json and a gallery) instead of training")
    p.add_argument("--data", help="image / folder / video (default: ../shared/data/example_image or synthetic)")
    p.add_argument("--iters", type=int, default=300)
    p.add_argument("--max-size", type=int, default=160)
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    p.add_argument("--work", help="folder for the run and settings (default: a temporary folder)")
    p.add_argument("--renderer", help="a renderer run folder: also capture the Paint page (paint.png)")
    args = p.parse_args()
    if args.run and args.data:
        p.error("--run opens the data recorded in the run; --data is for a new training")
    if args.run and not (Path(args.run) / "run.json").is_file():
        p.error(f"--run {args.run}: not a run folder (no run.json)")

    app = QApplication.instance() or QApplication([sys.argv[0]])
    from osmis_gui import startup, tasks
    from osmis_gui.main_window import MainWindow

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="osmis-shots-"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("training/runs_root", str(work / "runs"))
    startup.tune_process()  # as run_app does
    win = MainWindow(settings)
    startup.warm_up(win.state)
    win.confirm = lambda *a: True
    win.resize(1440, 900)
    win.show()

    def wait(cond, timeout=600.0):
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise TimeoutError("the window did not reach the expected state")
            app.processEvents()
            time.sleep(0.01)
        app.processEvents()

    def shot(name: str, tab) -> None:
        win.tabs.setCurrentWidget(tab)
        for _ in range(5):
            app.processEvents()
            time.sleep(0.05)
        path = out / f"{name}.png"
        win.grab().save(str(path))
        print(f"saved {path}")

    capture = capture_run if args.run else capture_training
    run_dir = capture(args, win, work, wait, shot)
    if args.renderer:
        paint_shot(win, args.renderer, wait, shot)
    win.close()
    tasks.wait_for_all(60_000)
    startup.release()
    win.deleteLater()  # tear the window down while Qt is still alive
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    app.processEvents()
    print(f"run folder: {run_dir}")
    return 0


def capture_run(args, win, work, wait, shot) -> str:
    """Open the finished run `args.run` as `osmis gui RUN` does and capture its four pages; returns the run."""
    run = str(Path(args.run).resolve())
    win.training.runs_root_edit.setText(str(Path(run).parent))  # where a user keeping this run would have it
    win.open_path(run)
    t, g = win.training, win.gallery
    wait(lambda: t.run_dir == run, 120)
    wait(lambda: (win.data.preview is not None or bool(win.data.data_error)) and not win.data.busy())
    if win.data.data_error:
        raise RuntimeError(f"the run's data cannot be shown: {win.data.data_error}")
    shot("data", win.data)
    win.settings_page.tabs.setCurrentIndex(0)
    shot("settings", win.settings_page)
    wait(lambda: bool(t.samples) and t.preview.has_image(), 120)
    shot("training", t)
    if g.gallery_combo.findData(None) >= 0 and g.manifest is None and not g.loading:
        raise RuntimeError(f"{run} has no gallery (run `osmis generate {run}` first)")
    wait(lambda: not g.loading and g.manifest is not None and g.metrics_checked, 300)
    show_gallery(g)
    shot("gallery", g)
    return run


def capture_training(args, win, work, wait, shot) -> str:
    """Train a small model in the app while it is watched, generate a gallery, capture the four pages."""
    from osmis_gui.probe import StallProbe

    shared = ROOT.parent / "shared" / "data" / "example_image"
    data = Path(args.data) if args.data else (shared if shared.is_dir() else synthetic_scene(work / "data"))

    # settings first, so the data view shows the architecture that training will use
    win.settings_page.apply_preset("quick")
    win.settings_page.set_options(
        max_size=args.max_size,
        iters=args.iters,
        preview_every=max(1, args.iters // 12),
        log_every=max(1, args.iters // 100),
        checkpoint_every=max(1, args.iters // 3),
        bernoulli_warmup=args.iters // 3,
        device="cpu",
    )
    win.open_data(str(data))
    wait(lambda: (win.data.preview is not None or bool(win.data.data_error)) and not win.data.busy())
    shot("data", win.data)
    win.settings_page.tabs.setCurrentIndex(0)
    shot("settings", win.settings_page)

    t = win.training
    wait(lambda: win.gallery.metrics_checked, 300)  # the start-up imports (torch, metrics) are done
    win.tabs.setCurrentWidget(t)  # watch the training, as a user would
    probe = StallProbe(10)
    probe.start()
    t.start_action.trigger()
    wait(lambda: t.last_step >= int(args.iters * 0.85) or (t.state == "idle" and t.worker is None))
    wait(lambda: bool(t.samples) and t.preview.has_image(), 60)
    worst = probe.stop()  # the grab itself blocks the GUI thread: not counted as a stall of the app
    shot("training", t)
    probe.start()
    wait(lambda: t.state == "idle" and t.worker is None)
    worst = max(worst, probe.stop())
    print(f"worst event-loop stall during training: {worst:.1f} ms ({probe.ticks} ticks)")

    g = win.gallery
    g.n_spin.setValue(12)
    g.seed_spin.setValue(0)
    wait(lambda: g.generate_action.isEnabled(), 60)
    g.generate_action.trigger()
    wait(lambda: not g.generating and not g.loading and g.manifest is not None)
    if g.score_action.isEnabled() and not g.metrics_reason:  # pretrained weights present
        g.score_action.trigger()
        wait(lambda: not g.scoring)
    show_gallery(g)
    shot("gallery", g)
    return t.run_dir


def show_gallery(g) -> None:
    """Sort by SIFID when scored; show large a sample whose mask has some foreground (class 0 below 90 %), else
    the first; select the first four."""
    if g.metrics and g.sort_combo.findData("sifid_64:asc") >= 0:
        g.sort_by("sifid_64")
    items = {int(it["index"]): it for it in g.manifest["items"]}
    order = g.visible_order()
    shown = next((i for i in order if (items[i].get("class_shares") or [1.0])[0] < 0.9), order[0])
    g.list.setCurrentItem(g.items[shown])
    g.select_indices(order[:4])


if __name__ == "__main__":
    raise SystemExit(main())
