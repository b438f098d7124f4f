"""Breaker session 19 (the Paint page's layouts, `osmis render`, the two-stage pipeline): one small test per finding
(tiny settings, CPU).

Found and fixed:
- an indexed layout whose palette is a grey ramp (what `Image.fromarray(ids).convert("P")` writes: index i is grey
  level i) was read by its colours for a renderer trained on colour masks: 0/1/2 are all within the colour
  tolerance of black, so every class became 0 (`osmis render` said "the layout holds a single class (0)", the Paint
  page opened a blank canvas). The colours of a palette are now used only when no two of its indices fall into one
  class (Renderer.decode_layout_image).
- the Paint page's Save layout… wrote over anything: the run's training mask (the next resume trains on the
  painted layout), its training photo (PNG bytes under a .jpg name), the run's run.json (the run no longer opens).
  render.save_layout now refuses a name not ending in .png and, given the run, its own files and its training data.
- Add to gallery (the Paint page) with a gallery name that is a file, or a name longer than the file system takes,
  ended in "Unexpected error (NotADirectoryError / OSError)"; render.add_to_gallery now says either in a sentence.
- `osmis run DATA --two-stage --no-masks` on data with masks said "give them with --mask"; it now names --no-masks.
- a renderer run renamed or moved with its galleries could no longer add to its own Paint gallery ("holds renders
  of the renderer run OLD, not of NEW"); a gallery in the run's galleries folder whose recorded run is gone is now
  added to, and its manifest names the run's new place.
- `osmis evaluate RUN` (a run folder for a gallery) said "the gallery holds no images"; it names one of its
  galleries now.
- `osmis animate RUN --out clip.mp4` wrote the walk over the run's training video; refused now, by the rule Save
  layout… uses (runfolder.run_reads).
- the two-stage render of a gallery whose model had another class count than the renderer (an OSMIS run of other
  data) said nothing; it warns now (render.layouts_of_gallery).

Tried and right (CLI): `osmis render` of an OSMIS run, `generate`/`animate` of a renderer run, `render --from` a run
folder, `--layout` a folder or a photo, layouts with a foreign colour, RGBA (alpha ignored), LA, 16-bit ids, 16-bit
levels of no class (named), a 1-bit image of a colour renderer, a JPEG of a gallery mask (its colour named), an empty
or non-image file, another size (the accepted sizes named), class id 4 of another run's classes; `render --out` into
the data folder, the run folder or its checkpoints; `--n 0`, `--seed -1` and each `--resample*` misuse; `run
--two-stage` on data without masks or with `--model renderer`: one sentence each, exit 2, nothing written. Unicode
and space paths for data, runs, galleries and walks. Per-instance noise of a 512x512 layout of 65,536 one-pixel
objects renders in 0.5 s.

Left open (not tested): closing the window during a long generate or two-stage render closes it at once while the
job goes on for up to 30 s (a training asks first); a run.json hand-edited to another model than its checkpoints'
is an OSMIS run to the app (Paint off) and a renderer to `osmis render`; a run folder whose run.json was deleted is
opened as data ("the folder holds no images").
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from osmis_core.application.render import load_renderer, save_layout
from osmis_core.errors import DataError


def test_an_indexed_layout_with_a_grey_ramp_palette_keeps_its_classes(tiny_renderer_run, tmp_path):
    run, layout = tiny_renderer_run
    renderer = load_renderer(run)
    ids = renderer.read_layout(layout)
    assert np.unique(ids).size == 3
    ramp = tmp_path / "ramp.png"
    Image.fromarray(ids.astype(np.uint8)).convert("P").save(ramp)  # palette entry i = (i, i, i)
    assert Image.open(ramp).mode == "P"
    assert np.array_equal(renderer.read_layout(ramp), ids)
    assert np.array_equal(renderer.read_editable_layout(ramp), ids)


def test_save_layout_refuses_the_runs_own_files_and_its_training_data(tiny_renderer_run, tmp_path):
    run, mask = tiny_renderer_run
    ids = load_renderer(run).read_layout(mask)
    data = mask.parent.parent
    protected = [mask, run / "run.json", data / "image" / "00000.png", data / "mask" / "00001.png"]
    before = {p: p.read_bytes() for p in protected if p.exists()}
    for target in protected:
        with pytest.raises(DataError, match="save the layout to another file") as info:
            save_layout(ids, target, run)
        assert str(info.value).startswith(str(target))
    assert {p: p.read_bytes() for p in protected if p.exists()} == before
    assert not (data / "mask" / "00001.png").exists()  # a new mask would have joined the training data
    with pytest.raises(DataError, match=r"give a name ending in \.png"):
        save_layout(ids, tmp_path / "layout.jpg", run)
    assert not (tmp_path / "layout.jpg").exists()
    fresh = save_layout(ids, tmp_path / "mine.png", run)  # anywhere else: written
    assert np.array_equal(np.asarray(Image.open(fresh)), ids)
    new_in_run = save_layout(ids, run / "layouts" / "mine.png", run)  # a new file in the run folder is no harm
    assert new_in_run.is_file()


def test_add_to_gallery_names_a_file_or_a_name_too_long_in_one_sentence(tiny_renderer_run, tmp_path):
    """The Paint page's Add to gallery with a gallery name that is a file, or longer than the file system allows,
    ended in "Unexpected error (NotADirectoryError / OSError)"; both are now a sentence naming the folder."""
    from osmis_core.application.render import NoiseRecipe, add_to_gallery
    from osmis_core.errors import OsmisError

    run, layout = tiny_renderer_run
    renderer = load_renderer(run)
    ids = renderer.read_layout(layout)
    recipe = [NoiseRecipe(0, "global", ())]
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DataError, match="is a file, not a gallery folder; choose another name"):
        add_to_gallery(renderer, ids, recipe, tmp_path / "afile")
    assert (tmp_path / "afile").read_text() == "x"
    with pytest.raises(OsmisError, match="not a usable gallery folder name") as info:
        add_to_gallery(renderer, ids, recipe, tmp_path / ("x" * 300))
    assert str(info.value).startswith(str(tmp_path / ("x" * 300)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_two_stage_with_no_masks_names_the_option_not_the_data(capsys, scene, tmp_path):
    """`osmis run DATA --two-stage --no-masks` on data with masks said "give them with --mask": the masks were there,
    the option turned them off. It now names the option; nothing is written."""
    from helpers import osmis_cli, run_job

    result = osmis_cli(capsys, *run_job(scene, tmp_path / "run", "--two-stage", "--no-masks"))
    assert result.returncode == 2
    assert "leave out --no-masks" in result.stderr and "--mask." not in result.stderr
    assert not (tmp_path / "run").exists()


def test_a_renamed_renderer_run_still_adds_to_its_own_paint_gallery(tiny_renderer_run, tmp_path):
    """A renderer run renamed (or moved) with its galleries: Add to gallery into RUN/galleries/paint was refused as
    "renders of the renderer run OLD, not of NEW". The gallery moved with the run, so it is added to, and its
    manifest names the run's new place (where the renderer measures look for the renderer). A gallery elsewhere
    naming a run that still exists stays refused."""
    import json
    import shutil

    from osmis_core.application.render import NoiseRecipe, add_to_gallery

    run, layout = tiny_renderer_run
    old = shutil.copytree(run, tmp_path / "old run")
    renderer = load_renderer(old)
    ids = renderer.read_layout(layout)
    add_to_gallery(renderer, ids, [NoiseRecipe(1, "global", ())], old / "galleries" / "paint")
    new = old.rename(tmp_path / "renamed ü")
    manifest = add_to_gallery(load_renderer(new), ids, [NoiseRecipe(2, "global", ())], new / "galleries" / "paint")
    assert len(manifest["items"]) == 2 and manifest["run"] == str(new.resolve())
    assert json.loads((new / "galleries" / "paint" / "manifest.json").read_text())["run"] == str(new.resolve())
    with pytest.raises(DataError, match="holds renders of the renderer run"):
        add_to_gallery(load_renderer(run), ids, [NoiseRecipe(3, "global", ())], new / "galleries" / "paint")


def test_evaluate_of_a_run_folder_names_its_galleries(capsys, tiny_renderer_run, scene, tmp_path):
    """`osmis evaluate RUN --real DATA` (a run folder given where a gallery is expected) said "the gallery holds no
    images"; it now says RUN is a run folder and names one of its galleries."""
    import shutil

    from helpers import osmis_cli

    from osmis_core.application.render import render_gallery

    run = shutil.copytree(tiny_renderer_run[0], tmp_path / "run")
    args = ("evaluate", run, "--real", scene, "--metrics", "diversity")
    result = osmis_cli(capsys, *args)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"error: {run}: is a run folder, not a gallery; give one of its galleries (it has none yet)."
    )
    gallery = render_gallery(run, [tiny_renderer_run[1]], run / "galleries" / "g", n=1)
    result = osmis_cli(capsys, *args)
    assert result.returncode == 2 and f"give one of its galleries, such as {gallery}." in result.stderr


def test_a_latent_walk_is_not_written_over_the_training_data_or_the_run(capsys, tmp_path):
    """`osmis animate RUN --out clip.mp4` wrote the walk over the run's training video (the run then trains on a
    walk). A walk is now refused over the run's training data or its own files (runfolder.run_reads, which Save
    layout… uses too), and still replaces a walk of the run."""
    import av
    from helpers import osmis_cli, scene_arrays, two_iteration_run

    img, ids = scene_arrays()
    data = tmp_path / "data"
    (data / "mask").mkdir(parents=True)
    with av.open(str(data / "clip.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = img.shape[1], img.shape[0], "yuv420p"
        for _ in range(2):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode(None))
    for i in range(2):
        Image.fromarray(ids * 100).save(data / "mask" / f"{i:05d}.png")
    run = two_iteration_run(data / "clip.mp4", tmp_path / "run")
    before = (data / "clip.mp4").read_bytes()
    result = osmis_cli(capsys, "animate", run, "--out", data / "clip.mp4", "--frames", "2")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {data / 'clip.mp4'}: is among the run's training data of {run}; write the latent walk to another file."
    )
    assert (data / "clip.mp4").read_bytes() == before
    walk = run / "walks" / "mine.mp4"
    for _ in range(2):  # a walk of the run is an output: written, then replaced
        assert osmis_cli(capsys, "animate", run, "--out", walk, "--frames", "2").returncode == 0


def test_rendering_the_masks_of_a_gallery_with_other_classes_warns(tiny_renderer_run, two_iteration_copy):
    """The two-stage render (`osmis render --from G`, the app's "Render these masks with…") of the masks of a model
    with another class count than the renderer's (an OSMIS run of other data) said nothing; it warns now."""
    import json

    from osmis_core.application.gallery import generate_gallery
    from osmis_core.application.render import render_gallery_masks

    gallery = two_iteration_copy / "galleries" / "g"
    generate_gallery(two_iteration_copy, gallery, n=2, seed=0, device="cpu")
    manifest = json.loads((gallery / "manifest.json").read_text())
    manifest["num_classes"] = 2  # an OSMIS model of two classes (other data than the renderer's three)
    (gallery / "manifest.json").write_text(json.dumps(manifest))
    for item in manifest["items"]:
        path = gallery / item["mask"]
        Image.fromarray((np.asarray(Image.open(path)) > 0).astype(np.uint8)).save(path)
    with pytest.warns(UserWarning, match="2 classes.*3"):
        render_gallery_masks(tiny_renderer_run[0], gallery)
