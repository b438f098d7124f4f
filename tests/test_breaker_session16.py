"""Breaker session 16 (odd videos and their masks, batch sources and signals, today's gallery kinds): one small
test per finding (tiny settings, CPU).

Found and fixed:
- a video with rotation metadata (a phone's portrait clip: landscape pixels and a display matrix) trained sideways,
  and its masks, drawn over the frames as shown, were refused as "of another aspect ratio": frames are now turned
  as the video is shown, as EXIF orientation is for images (data.sources._upright);
- a video's masks numbered without leading zeros (0.png ... 11.png) were paired in plain name order, frame 2 with
  10.png, silently: numbers in mask names now compare as numbers (data.sources._frame_order);
- a video that stops decoding half-way (garbage in the middle), with one mask per frame of the whole clip, was
  refused as "40 masks for 3 video frames; give exactly one mask per frame", blaming the masks: the sentence now
  names the video, where decoding stopped, and says it is corrupt or truncated;
- a frames folder copied from a Mac (`._NAME.png` resource forks) was refused; hidden files are no data wherever
  a folder's data files are listed (data.sources.data_files, now also used by batch, layouts and evaluate);
- batch CSV lists: a UTF-8 file with a byte-order mark (as spreadsheets save it) and column names with blanks
  around them were refused as lacking a 'data' column; a row with more cells than the header, a column named
  twice and a cell under an unnamed column each lost a cell silently: all refused naming the file and line now;
- a batch source whose name now gives other data than its run was trained on (an edited list, two sources of one
  name reordered) was reported "finished" with the new file and the old run's pairs merged as its own: it fails,
  in the sentence of `check_resume_data`;
- in a folder of videos where some have mask folders, a video without one trained without masks silently: it is a
  source with a problem, as an image without its mask among masked images;
- SIGTERM (`kill`) of a running `osmis batch` aborted the process (exit 134, a native "SIGTERM received" dump from
  the handler ray.init installs), leaving no summary: run_batch puts back the caller's handler after ray.init,
  so the batch stops as after Ctrl-C (checkpoints, summary, pending runs), and the same command resumes it;
- the Paint page's "Add to gallery" into an export of picked renders added to it (its manifest keeps the render
  kind) and dropped its scores: add_to_gallery tells kinds apart by gallery.gallery_kind, as generate, render and
  export do;
- the app's export into a folder holding a generated or render gallery asked "already holds an export ...
  Overwrite its files?" (any manifest.json), then the export refused it: the app asks the engine
  (gallery.export_replaces) before its question and confirms replacing an earlier export only (found at the same
  time by the integrator: tests/gui/test_export_into_a_gallery.py);
- `osmis generate RUN --raw` without --out replaced the EMA gallery of the same step, seed and n (same default
  name): raw galleries are named ...-raw;
- a video of frames too small for the model was refused as "the image is 24x16": the sentence names the video's
  frames;
- a DATA folder holding two videos (and no images) trained on the first alone, silently: refused naming both;
- two `osmis batch` commands into one BATCH at once both trained every run (two trainings interleaving one run
  folder's checkpoints and stats): the running batch holds BATCH/.lock, a second one is refused;
- re-running a batch with another --n-per-source deleted a run's galleries/batch whole (shutil.rmtree), a user's
  file kept there with it: the batch's gallery is replaced by the rule of every gallery (staging_folder);
- a batch source read with a warning (a video that stops decoding after a few of 40 frames) was reported "finished"
  with an empty message, the warning lost on the Ray worker: the summary row carries it.

Tried and right: videos of 1 and 2 frames, odd width and height (129x65, FFV1 in Matroska), portrait, variable frame
rate (train on every frame); frames below the 16-pixel minimum (one sentence, exit 2, no run folder); an audio-only
MP4 ("holds no video stream"), an empty or text file named .mp4 and an MP4 cut short (its index is at the end:
"corrupt or cannot be decoded"); a PNG named .mp4 (FFmpeg reads it: a one-frame video, trained correctly); masks
fewer or more than frames, of another aspect (named), smaller than the frames (resized), with 34 classes (refused
naming the mask and --max-classes); the shared 80-frame example_video folder. Batch: an empty folder ("holds no
sources"), a blank line or a row of empty cells in a CSV (skipped), a CSV with ';' separators (refused, the header
quoted), two sources of one name (-2), --out inside the sources folder (a re-run lists the same sources), a
group Ctrl-C (SIGINT to the whole process group: runs checkpoint, summary written), re-running a stopped batch
(resumes the stopped run, trains the pending ones). Gallery kinds: generate, render and export over each other's
galleries and over an export of a render gallery (refused, both kinds named).

Fixed by the integrator after the pass: a render gallery's default name (step, seed, number of photos) did not
tell layouts apart, so rendering another layout without --out replaced the first layout's renders; the name now
adds what was rendered (render.render_source_label). Two trainings of one run at once outside a batch (`osmis
train RUN --resume` in two terminals, or with the app's "Continue run") were not refused: a run now has a training
lock (RunFolder.training, tests/test_run_lock.py). Data warnings (a video decoded only in part, a dark 16-bit
image) were printed but not written to the run's log.txt: they are now (tests/test_data_warnings_logged.py). The
same data listed twice in a batch (same mask and options) trained twice and went into the dataset twice: the repeat
is now a source with a problem (tests/test_batch_repeated_source.py). A Matroska video cut in half decoded without
an error and trained on its first half silently: its declared length now tells (tests/test_truncated_video.py).

Left open: none.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from helpers import TINY, folder_bytes, tiny_flags, two_iteration_run
from PIL import Image

from osmis_core.batch import list_sources
from osmis_core.cli import main
from osmis_core.data.sources import find_source, load_frame_set
from osmis_core.errors import ConfigError


def _write_video(path: Path, frames: list[np.ndarray]) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for a in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(a, format="rgb24")))
        container.mux(stream.encode())
    return path


def _frame(w: int = 128, h: int = 64, shift: int = 0) -> np.ndarray:
    """Green, with a red block over the left quarter (moved right by `shift` pixels)."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:] = (40, 160, 40)
    a[:, shift : shift + w // 4] = (220, 30, 30)
    return a


def _mask(w: int, h: int, path: Path, band: slice | None = None) -> Path:
    ids = np.zeros((h, w), np.uint8)
    ids[band or slice(0, h // 4)] = 1
    im = Image.fromarray(ids, "P")
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.save(path)
    return path


def _broken_video(path: Path) -> Path:
    """A 40-frame clip with 300 bytes of garbage a third of the way in: it decodes a few frames, then fails."""
    video = _write_video(path, [_frame(shift=i) for i in range(40)])
    data = bytearray(video.read_bytes())
    third = len(data) // 3
    data[third : third + 300] = np.random.default_rng(0).integers(0, 255, 300, dtype=np.uint8).tobytes()
    video.write_bytes(bytes(data))
    return video


def _rotate_display(path: Path) -> Path:
    """Give an MP4 the display matrix of a portrait phone clip (rotate 90 degrees clockwise when shown), written
    into its track header as recorders do."""
    data = bytearray(path.read_bytes())
    matrix = data.find(b"tkhd") + 44  # after version/flags, times, track id, duration, layer, group, volume
    struct.pack_into(">9i", data, matrix, 0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30)
    path.write_bytes(bytes(data))
    return path


def test_a_rotated_video_trains_upright_with_masks_drawn_upright(tmp_path, capsys):
    """Fixed: a landscape-coded clip shown in portrait trained sideways, and its portrait masks were refused."""
    video = _rotate_display(_write_video(tmp_path / "phone.mp4", [_frame() for _ in range(3)]))
    (tmp_path / "mask").mkdir()
    for i in range(3):
        _mask(64, 128, tmp_path / "mask" / f"{i:05d}.png")  # portrait, as the clip is shown
    frames = load_frame_set(find_source(video), 10).frames
    assert frames[0].size == (64, 128)
    top = np.asarray(frames[0])[:24].reshape(-1, 3).mean(0)
    assert top[0] > 150 and top[1] < 100  # the left quarter, red, is on top once turned clockwise
    run = tmp_path / "run"
    assert main(["train", str(video), "--out", str(run), "--quiet", *tiny_flags(iters=2)]) == 0
    assert json.loads((run / "run.json").read_text())["data"]["original_size"] == [64, 128]
    capsys.readouterr()


def test_video_masks_numbered_without_leading_zeros_pair_in_frame_order(tmp_path):
    """Fixed: 0.png ... 11.png were paired in name order (0, 1, 10, 11, 2, ...): frame 2 got mask 10.png."""
    video = _write_video(tmp_path / "clip.mp4", [_frame(shift=2 * i) for i in range(12)])
    masks = tmp_path / "masks"
    masks.mkdir()
    for i in range(12):
        _mask(128, 64, masks / f"{i}.png")
    chosen = load_frame_set(find_source(video, masks), 100).masks
    assert [p.name for p in chosen] == [f"{i}.png" for i in range(12)]


def test_a_video_broken_half_way_is_named_not_its_masks(tmp_path, capsys):
    """Fixed: garbage in the middle of a 40-frame clip with 40 masks said '40 masks for 3 video frames'."""
    video = _broken_video(tmp_path / "clip.mp4")
    masks = tmp_path / "masks"
    masks.mkdir()
    for i in range(40):
        _mask(128, 64, masks / f"{i:05d}.png")
    run = tmp_path / "run"
    argv = ["train", str(video), "--mask", str(masks), "--out", str(run), "--quiet", *tiny_flags(iters=2)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"error: {video}: decoding stopped after ")
    assert "corrupt or truncated" in err and "40 masks" in err
    assert not run.exists()


def test_a_batch_csv_saved_by_a_spreadsheet_is_read(tmp_path):
    """Fixed: a UTF-8 CSV with a byte-order mark (as spreadsheet programs save it) was refused as "the header must
    have a 'data' column"; column names with blanks around them (' data , mask') too, though option columns were
    read without them."""
    (tmp_path / "excel.csv").write_text("\ufeffdata,name,iters\na.png,x,3\n", encoding="utf-8")
    (tmp_path / "spaced.csv").write_text(" data , mask ,name\n a.png , m.png ,y\n", encoding="utf-8")
    [x] = list_sources(tmp_path / "excel.csv")
    assert (x.name, x.data, x.options) == ("x", (tmp_path / "a.png").resolve(), {"iters": 3})
    [y] = list_sources(tmp_path / "spaced.csv")
    assert (y.name, y.mask) == ("y", (tmp_path / "m.png").resolve())


def test_a_batch_csv_cell_is_never_dropped(tmp_path):
    """Fixed: a row with more cells than the header (an unquoted comma) and a column named twice lost a cell
    silently (the extra one, or the first 'iters'); both are refused naming the file (and line)."""
    (tmp_path / "extra.csv").write_text("data,name,iters\na.png,x,3,5\n")
    with pytest.raises(ConfigError, match=r"extra.csv line 2: 4 cells but the header has 3 columns"):
        list_sources(tmp_path / "extra.csv")
    (tmp_path / "twice.csv").write_text("data,iters,iters\na.png,3,5\n")
    with pytest.raises(ConfigError, match=r"twice.csv: the header names the column 'iters' twice"):
        list_sources(tmp_path / "twice.csv")
    (tmp_path / "unnamed.csv").write_text("data,\na.png,5\n")
    with pytest.raises(ConfigError, match=r"unnamed.csv line 2: the cell '5' is in a column without a name"):
        list_sources(tmp_path / "unnamed.csv")
    (tmp_path / "semicolons.csv").write_text("data;mask\na.png;m.png\n")
    with pytest.raises(ConfigError, match=r"must have a 'data' column \(it reads 'data;mask'\)"):
        list_sources(tmp_path / "semicolons.csv")


def test_a_batch_source_whose_name_now_gives_other_data_fails(scene, tmp_path, local_ray, capsys):
    """Fixed: a list whose entry under name x now gives other data than x's finished run was trained on reported x
    'finished' with the new file as its data, and merged the old run's pairs into the dataset as x's."""
    batch = tmp_path / "B"
    two_iteration_run(scene, batch / "runs" / "x")  # x's run, trained on the scene
    other = tmp_path / "other.png"
    Image.fromarray(_frame()).save(other)
    (tmp_path / "list.csv").write_text(f"data,name\n{other},x\n")
    argv = ["batch", str(tmp_path / "list.csv"), "--out", str(batch), "--n-per-source", "2", "--num-cpus", "1"]
    assert main([*argv, *tiny_flags(iters=2)]) == 1
    [row] = json.loads((batch / "summary.json").read_text())["sources"]
    assert row["status"] == "failed"
    assert f"runs/x was trained on {scene.resolve()}, not on {other}" in row["message"]
    assert not list((batch / "dataset" / "images").glob("*"))
    capsys.readouterr()


def test_a_video_without_its_mask_folder_among_masked_videos_is_a_problem(tmp_path):
    """Fixed: in a folder of videos where a.mp4 has mask/a/ and b.mp4 has no mask folder, b trained without masks
    and went into the dataset as images only, silently; an image without its mask among masked images is
    reported, and so is b now."""
    for name in ("a", "b"):
        _write_video(tmp_path / f"{name}.mp4", [_frame()])
    (tmp_path / "mask" / "a").mkdir(parents=True)
    _mask(128, 64, tmp_path / "mask" / "a" / "00000.png")
    a, b = list_sources(tmp_path)
    assert a.problem is None and a.mask == (tmp_path / "mask" / "a").resolve()
    assert b.problem == f"{tmp_path / 'b.mp4'}: no mask folder b_mask/ or mask/b/ beside it, as the other videos have."


def test_renders_are_not_added_to_an_export_of_a_render_gallery(tiny_renderer_run, tmp_path):
    """Fixed: the Paint page's "Add to gallery" into an export of picked renders (its manifest keeps the render
    gallery's kind) added the new renders to the picks and dropped the export's scores; an export is now told apart
    by the one rule of gallery kinds (gallery.gallery_kind), as generate, render and export tell it."""
    from osmis_core.application.gallery import export_selection
    from osmis_core.application.render import NoiseRecipe, Renderer, add_to_gallery, render_gallery
    from osmis_core.errors import DataError

    run, layout = tiny_renderer_run
    renders = render_gallery(run, [layout], tmp_path / "renders", n=2)
    picked = tmp_path / "picked"
    export_selection(renders, [1], picked)
    before = folder_bytes(picked)
    renderer = Renderer.load(run)
    ids = np.zeros(renderer.size, np.int64)
    ids[:, : renderer.size[1] // 2] = 1
    with pytest.raises(DataError, match="picked: is an export of picked samples; add renders to a render gallery"):
        add_to_gallery(renderer, ids, [NoiseRecipe(3)], picked)
    assert folder_bytes(picked) == before
    assert len(add_to_gallery(renderer, ids, [NoiseRecipe(3)], renders)["items"]) == 3  # its own kind: added to


def test_sigterm_stops_a_batch_after_ray_started(scene, tmp_path, no_ray):
    """Fixed: `kill` (SIGTERM) of a running `osmis batch` aborted the process (exit 134: "*** SIGTERM received ***"
    from the native handler that ray.init installs in the driver), leaving no summary and no checkpoint of the
    running run's last steps; README promises SIGTERM is handled as Ctrl-C. run_batch now puts back the caller's
    SIGTERM handler after ray.init (here the osmis command's own, stand-in: a stop request)."""
    import os
    import signal

    from osmis_core.batch import BatchControl, BatchFinished, RunProgress, run_batch
    from osmis_core.config import OsmisConfig

    control = BatchControl()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: control.request_stop())
    try:
        config = OsmisConfig().replace(**{**TINY, "iters": 400, "eval_every": 0, "keep_best": "none"})
        events = run_batch(scene, config, tmp_path / "B", n_per_source=2, num_cpus=1, control=control)
        for event in events:
            if isinstance(event, RunProgress):
                assert getattr(signal.getsignal(signal.SIGTERM), "__name__", "") == "<lambda>"
                os.kill(os.getpid(), signal.SIGTERM)
                break
        finished = [e for e in events if isinstance(e, BatchFinished)]
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert finished and finished[0].stopped and finished[0].counts["stopped"] == 1
    [row] = json.loads((tmp_path / "B" / "summary.json").read_text())["sources"]
    assert row["status"] == "stopped" and 0 < row["iterations"] < 400


def test_mac_resource_forks_beside_frames_and_masks_are_left_out(tmp_path, capsys):
    """Fixed: a frames folder copied from a Mac (a `._NAME` resource fork beside every file, with the file's
    extension) was refused ("._00000.png: not an image file", or one mask more than frames); hidden files are no
    data wherever a folder's data files are listed (data.sources.data_files: frames, masks, layouts, a batch's
    images and videos)."""
    img = _frame()
    for sub in ("image", "mask"):
        (tmp_path / "data" / sub).mkdir(parents=True)
    for i in range(2):
        Image.fromarray(img).save(tmp_path / "data" / "image" / f"{i:05d}.png")
        _mask(128, 64, tmp_path / "data" / "mask" / f"{i:05d}.png", slice(0, 16))
        for sub in ("image", "mask"):
            (tmp_path / "data" / sub / f"._{i:05d}.png").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
    run = tmp_path / "run"
    assert main(["train", str(tmp_path / "data"), "--out", str(run), "--quiet", *tiny_flags(iters=2)]) == 0
    assert json.loads((run / "run.json").read_text())["data"]["num_frames"] == 2
    assert [s.name for s in list_sources(tmp_path / "data")] == ["00000", "00001"]
    capsys.readouterr()


def test_generate_raw_beside_an_ema_gallery_keeps_both(two_iteration_copy, capsys):
    """Fixed: `osmis generate RUN --n 2` then `osmis generate RUN --n 2 --raw` wrote both to
    RUN/galleries/step_0000002-seed0-n2, the raw generator's samples silently replacing the EMA gallery (same kind,
    other pictures); the raw one is now named ...-raw (gallery.gallery_name)."""
    run = two_iteration_copy
    assert main(["generate", str(run), "--n", "2"]) == 0
    assert main(["generate", str(run), "--n", "2", "--raw"]) == 0
    names = sorted(p.name for p in (run / "galleries").iterdir())
    assert names == ["step_0000002-seed0-n2", "step_0000002-seed0-n2-raw"]
    assert json.loads((run / "galleries" / names[0] / "manifest.json").read_text())["ema"] is True
    assert json.loads((run / "galleries" / names[1] / "manifest.json").read_text())["ema"] is False
    capsys.readouterr()


def test_rendering_another_layout_without_out_keeps_the_first_renders(tiny_renderer_run, tmp_path, capsys):
    run, layout = tiny_renderer_run
    flipped = tmp_path / "flipped.png"
    Image.open(layout).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(flipped)
    galleries = run / "galleries"
    before = set(galleries.iterdir()) if galleries.is_dir() else set()
    assert main(["render", str(run), "--layout", str(layout), "--n", "1", "--seed", "77"]) == 0
    assert main(["render", str(run), "--layout", str(flipped), "--n", "1", "--seed", "77"]) == 0
    capsys.readouterr()
    made = sorted(p.name for p in set(galleries.iterdir()) - before)
    assert len(made) == 2
    assert [m.rsplit("-", 1)[0] for m in made] == sorted(
        ["step_0000002-seed77-n1-flipped", f"step_0000002-seed77-n1-{layout.stem}"]
    )


def test_render_default_names_say_what_was_rendered(tmp_path):
    """The default name's `of` part: none for the training layouts, a layout's name, the folder of several, the
    OSMIS gallery of --from (its masks/ folder), and the re-drawn region's seed; odd characters made plain."""
    import hashlib

    from osmis_core.application.gallery import gallery_name
    from osmis_core.application.render import Region, render_source_label

    def where(path):  # the hash of a layout's (or folder's) full path in the label
        return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:6]

    assert render_source_label(None) is None
    assert render_source_label([tmp_path / "my layout.png"]) == f"my layout-{where(tmp_path / 'my layout.png')}"
    assert (
        render_source_label([tmp_path / "lay" / "a.png", tmp_path / "lay" / "b.png"])
        == f"lay-{where(tmp_path / 'lay')}"
    )
    masks = tmp_path / "g1" / "masks"
    assert render_source_label([masks / "0000.png", masks / "0001.png"]) == f"g1-{where(masks)}"
    assert render_source_label(None, Region(class_id=2), 5) == "training-class2-resample5"
    assert (
        render_source_label([tmp_path / "a.png"], Region(class_id=2), 5)
        == f"a-{where(tmp_path / 'a.png')}-class2-resample5"
    )
    assert gallery_name(2, 7, 4, of="my layout") == "step_0000002-seed7-n4-my_layout"
    assert gallery_name(2, 7, 4, of="..hidden") == "step_0000002-seed7-n4-hidden"
    assert gallery_name(2, 7, 4) == "step_0000002-seed7-n4"


def test_a_too_small_video_is_named_as_a_video(tmp_path, capsys):
    """Fixed: a video of 12x8 (or 20x18) frames was refused as "the image is 12x8", though no image was given;
    the sentence now says the video's frames are."""
    video = _write_video(tmp_path / "small.mp4", [_frame(24, 16), _frame(24, 16)])
    assert main(["train", str(video), "--out", str(tmp_path / "run"), "--quiet", *tiny_flags(iters=2)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: {video}: the video's frames are 24x16, too small for this model: the shorter side must be at least "
        "48 pixels (images are never enlarged)."
    )
    assert not (tmp_path / "run").exists()


def test_a_data_folder_of_two_videos_is_refused_not_half_used(tmp_path, capsys):
    """Fixed: `osmis train clips/` with a.mp4 and b.mp4 trained on a.mp4 alone, silently; one model learns one
    video, so the folder is refused naming both (osmis batch is the command for one model per video)."""
    (tmp_path / "clips").mkdir()
    for name in ("a", "b"):
        _write_video(tmp_path / "clips" / f"{name}.mp4", [_frame()])
    run = tmp_path / "run"
    assert main(["train", str(tmp_path / "clips"), "--out", str(run), "--quiet", *tiny_flags(iters=2)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path / 'clips'}: holds 2 videos (a.mp4, b.mp4) and no images; give one video file (osmis "
        "batch trains one model per video)."
    )
    assert not run.exists()


def test_a_second_batch_into_a_running_batch_folder_is_refused(scene, tmp_path, local_ray):
    """Fixed: two `osmis batch` commands into one BATCH at once (a second terminal, a job started twice) both
    trained every run: two trainings wrote each run folder's checkpoints and stats.jsonl (steps 1, 2, ..., 11, 1,
    12, 2, ...), and both reported "finished". The running batch holds BATCH/.lock; a second is refused naming
    the folder and the process, before it starts anything; the lock goes with the first batch."""
    import fcntl
    import os

    from osmis_core.batch import BatchStarted, run_batch
    from osmis_core.config import OsmisConfig
    from osmis_core.errors import OsmisError

    config = OsmisConfig().replace(**{**TINY, "iters": 2, "eval_every": 0, "keep_best": "none"})
    out = tmp_path / "B"
    first = run_batch(scene, config, out, n_per_source=2, num_cpus=1)
    assert isinstance(next(first), BatchStarted)
    try:
        second = run_batch(scene, config, out, n_per_source=2, num_cpus=1)
        with pytest.raises(
            OsmisError, match=rf"another osmis batch is running into this folder \(process {os.getpid()}\)"
        ):
            next(second)
    finally:
        first.close()
    with open(out / ".lock") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # let go by the first batch's end


def test_a_batch_never_deletes_a_users_file_in_a_runs_gallery(scene, tmp_path, local_ray, capsys):
    """Fixed: re-running a batch with another --n-per-source removed BATCH/runs/<source>/galleries/batch whole
    (shutil.rmtree), a user's notes kept there with it, where every other command refuses to replace a gallery
    folder that holds anything else; the batch's gallery is now replaced by the same rule (the source fails
    naming the file, which stays)."""
    from osmis_core.application.session import start_training
    from osmis_core.config import OsmisConfig

    batch = tmp_path / "B"
    run = batch / "runs" / "00000"  # the batch's run of the scene's one image, finished
    config = OsmisConfig().replace(**{**TINY, "iters": 2, "eval_every": 0, "keep_best": "none"})
    list(start_training(config, scene / "image" / "00000.png", run, scene / "mask" / "00000.png").run())
    gallery = run / "galleries" / "batch"
    assert main(["generate", str(run), "--n", "2", "--out", str(gallery)]) == 0
    (gallery / "notes.txt").write_text("keep me")
    argv = ["batch", str(scene), "--out", str(batch), "--n-per-source", "3", "--num-cpus", "1"]
    assert main([*argv, *tiny_flags(iters=2)]) == 1
    [row] = json.loads((batch / "summary.json").read_text())["sources"]
    assert row["status"] == "failed" and "also holds notes.txt" in row["message"]
    assert (gallery / "notes.txt").read_text() == "keep me"
    capsys.readouterr()


def test_a_batch_source_read_with_a_warning_says_so_in_the_summary(tmp_path, local_ray, capsys):
    """Fixed: a batch source whose video stops decoding after a few of its 40 frames trained on those and was
    reported "finished" with an empty message: the warning `osmis train` prints was lost on the Ray worker. The
    summary row now carries it."""
    (tmp_path / "src").mkdir()
    video = _broken_video(tmp_path / "src" / "clip.mp4")
    batch = tmp_path / "B"
    argv = ["batch", str(tmp_path / "src"), "--out", str(batch), "--n-per-source", "2", "--num-cpus", "1"]
    assert main([*argv, *tiny_flags(iters=2)]) == 0
    [row] = json.loads((batch / "summary.json").read_text())["sources"]
    assert row["status"] == "finished"
    assert row["message"].startswith(f"warning: {video}: decoding stopped after ")
    assert row["message"].endswith("; using those")
    capsys.readouterr()
