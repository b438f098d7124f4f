"""Breaker session 15 (galleries replaced only when they hold nothing else and are not read, the renderer loaded once
for the renderer measures, config-file naming, empty paths, animate's --out): one small test per finding (tiny
settings, CPU).

Found and fixed:
- the renderer measures of a render gallery whose run was moved said "G: memorisation need the renderer run ...";
  one measure now "needs" it, as in "memorisation needs a gallery made by osmis render" of an OSMIS gallery
  (render_evaluation.gallery_renderer).

Tried and right: generating twice into the same gallery, and again after `osmis evaluate` wrote metrics.json and
metrics.csv into it (replaced, the stale scores gone); an export kept inside a gallery stops its regeneration;
`render --from G` into a new folder and again into the same one; `render --from G --out G` refused; export twice to
the same folder (the second replaces the first: only its items remain) and over an export holding a user's file
(refused); `osmis evaluate RENDER_GALLERY --real DATA --metrics layout_fidelity,memorisation,locality` (renderer
loaded once); a moved renderer run refused naming the gallery before any metric; a config file breaking the
keep_best/eval_every/iters rule named once, with `--preset quick` too; `--out ""`, DATA "", `--config ""`,
`--real ""`, `--from ""` refused naming them; `animate --out a/b/../walk.mp4` writes a/walk.mp4 without a/b, and
`--out existing_folder.mp4` is refused.
"""

from __future__ import annotations

import json
import shutil

from osmis_core.cli import main


def test_a_gallery_is_regenerated_after_evaluate_and_its_stale_scores_dropped(
    two_iteration_copy, scene, tmp_path, capsys
):
    """Tried and right: `osmis generate RUN --out G` twice, then `osmis evaluate G` (metrics.json, metrics.csv
    written into G), then generate again: every time G is replaced (it holds only a gallery's own entries), and the
    scores of the earlier samples are not left beside the new ones."""
    run = two_iteration_copy
    g = tmp_path / "g"
    gen = ["generate", str(run), "--n", "2", "--out", str(g)]
    assert main(gen) == 0
    assert main(gen) == 0
    argv = ["evaluate", str(g), "--real", str(scene), "--metrics", "diversity", "--random-weights"]
    assert main(argv) == 0
    assert (g / "metrics.json").is_file() and (g / "metrics.csv").is_file()
    assert main(gen) == 0
    assert sorted(p.name for p in g.iterdir()) == ["images", "index.html", "manifest.json", "masks", "overlays"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    capsys.readouterr()


def test_export_again_to_the_same_folder_replaces_the_earlier_export(two_iteration_copy, tmp_path, capsys):
    """Tried and right: `osmis export G --select 0-1 --out E` then `--select 1 --out E` leaves only the second
    export in E (one item, one image), not the union of both."""
    run = two_iteration_copy
    g = tmp_path / "g"
    assert main(["generate", str(run), "--n", "2", "--out", str(g)]) == 0
    e = tmp_path / "e"
    assert main(["export", str(g), "--select", "0-1", "--out", str(e)]) == 0
    assert len(list((e / "images").iterdir())) == 2
    assert main(["export", str(g), "--select", "1", "--out", str(e)]) == 0
    assert len(json.loads((e / "manifest.json").read_text())["items"]) == 1
    assert len(list((e / "images").iterdir())) == 1
    capsys.readouterr()


def test_render_from_a_gallery_into_a_new_folder_and_again(tiny_renderer_run, two_iteration_copy, tmp_path, capsys):
    """Tried and right: `osmis render RUN --from G --out R` into a new folder, then again into R (its own render
    gallery: replaced), G left as it was."""
    renderer, _ = tiny_renderer_run
    run = two_iteration_copy
    g = tmp_path / "g"
    assert main(["generate", str(run), "--n", "2", "--out", str(g)]) == 0
    before = sorted(p.name for p in (g / "images").iterdir())
    r = tmp_path / "new" / "r"
    argv = ["render", str(renderer), "--from", str(g), "--n", "1", "--out", str(r)]
    assert main(argv) == 0
    assert main(argv) == 0
    assert json.loads((r / "manifest.json").read_text())["kind"] == "render"
    assert len(list((r / "images").iterdir())) == 2
    assert sorted(p.name for p in (g / "images").iterdir()) == before
    capsys.readouterr()


def test_one_renderer_measure_of_a_moved_run_needs_it(tiny_renderer_run, tmp_path, capsys):
    """Fixed here: the refusal of a render gallery whose renderer run was moved read "memorisation need the
    renderer run"; one measure "needs" it (several "need" it, as session 14's test shows)."""
    run, layout = tiny_renderer_run
    moved = tmp_path / "run"
    shutil.copytree(run, moved)
    gallery = tmp_path / "g"
    assert main(["render", str(moved), "--layout", str(layout), "--n", "2", "--out", str(gallery)]) == 0
    shutil.rmtree(moved)
    capsys.readouterr()
    argv = ["evaluate", str(gallery), "--real", str(layout.parent.parent), "--metrics", "locality"]
    assert main([*argv, "--random-weights"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        f"error: {gallery}: locality needs the renderer run that made the gallery; {moved.resolve()}: no such run "
        "folder."
    )


def test_one_renderer_measure_of_an_osmis_gallery_needs_a_render_gallery(two_iteration_copy, scene, tmp_path, capsys):
    """Fixed here: `osmis evaluate G --metrics memorisation` of an OSMIS gallery read "memorisation need a gallery
    made by osmis render"; one measure "needs" one."""
    run = two_iteration_copy
    g = tmp_path / "g"
    assert main(["generate", str(run), "--n", "2", "--out", str(g)]) == 0
    capsys.readouterr()
    argv = ["evaluate", str(g), "--real", str(scene), "--metrics", "memorisation", "--random-weights"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"error: {g}: memorisation needs a gallery made by osmis render (this one was not)."
