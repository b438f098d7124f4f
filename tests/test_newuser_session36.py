"""New user 36: today's refusals (where outputs go, argparse's one-line errors, the training lock held from
start_training, learning rate 0, a mask in a mask/ folder) used as README describes, looking for legitimate use
they refuse and sentences that mislead.

Found right (by hand, tiny runs): generate with no --out, --out NAME, ./NAME, sub/../NAME, RUN/galleries/NAME (also
via RUN/galleries/../galleries/NAME and from inside the run or its galleries/ with relative paths), RUN/exports/x,
regenerating into an existing generated gallery; an --out under a linked folder (home/data -> /mnt/disk/data) and a
run opened through a linked folder; --out that is itself a link to a gallery refused as README says; export into
RUN/galleries/NAME, beside the run, over its own earlier export, and refused into a generated gallery or inside a
gallery; plain/galleries/x beside a run; animate to the current folder, RUN/walks/x.mp4, RUN/walks/sub/x.mp4, a
linked folder, refused inside a gallery; `osmis`, `osmis --help`, `osmis train --help`, `osmis nosuchcommand`,
`osmis train --iters abc`; train then train --resume, SIGTERM then resume, osmis run, osmis run --resume; --lr-g 0 and
--lr-d 0 refused (also on resume), 1e-9 trains; osmis run --two-stage and its --resume; osmis batch run twice
(the second skips the finished run); an image whose folder holds a mask/ folder of other images' masks
is read without a mask.

Found wrong and fixed here: a manifest.json of another program (a web app's, a data set's) in a folder above the
output made every output under it "inside the gallery" (generate, animate, a new run); `osmis --bogus` said
"the following arguments are required: COMMAND" as if nothing was given; `generate --out RUN/galleries` was told
to "put the gallery in RUN/galleries".
"""

from __future__ import annotations

import json

from helpers import osmis_cli


def test_a_foreign_manifest_above_the_output_is_no_gallery(trained, tmp_path, capsys):
    project = tmp_path / "project"
    project.mkdir()
    (project / "manifest.json").write_text(json.dumps({"name": "my web app", "version": "1.0"}))
    out = project / "results" / "g"
    result = osmis_cli(capsys, "generate", trained, "--n", "2", "--out", out)
    assert result.returncode == 0, result.stderr
    assert (out / "manifest.json").is_file()
    result = osmis_cli(capsys, "animate", trained, "--out", project / "walk.mp4", "--frames", "4")
    assert result.returncode == 0, result.stderr
    assert (project / "walk.mp4").stat().st_size > 0


def test_a_real_or_damaged_gallery_above_the_output_still_refuses(trained, tmp_path, capsys):
    gallery = tmp_path / "g"
    assert osmis_cli(capsys, "generate", trained, "--n", "2", "--out", gallery).returncode == 0
    result = osmis_cli(capsys, "generate", trained, "--n", "2", "--out", gallery / "inner")
    assert result.returncode == 2
    assert f"is inside the gallery {gallery}" in result.stderr
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "manifest.json").write_text('{"items": [')  # a gallery's manifest cut short
    result = osmis_cli(capsys, "generate", trained, "--n", "2", "--out", damaged / "inner")
    assert result.returncode == 2
    assert "is inside the gallery" in result.stderr
    assert not (damaged / "inner").exists()


def test_an_unknown_flag_before_the_command_is_named(capsys):
    result = osmis_cli(capsys, "--bogus")
    assert result.returncode == 2
    assert result.stderr == (
        "osmis: error: unrecognized arguments: --bogus; a command comes first (osmis --help lists the commands)\n"
    )
    nothing = osmis_cli(capsys)  # no argument at all: the command is what is missing
    assert nothing.returncode == 2
    assert "the following arguments are required: COMMAND" in nothing.stderr
    assert osmis_cli(capsys, "--help").stdout.startswith("usage: osmis")


def test_galleries_folder_itself_points_inside_it(trained, capsys):
    result = osmis_cli(capsys, "generate", trained, "--n", "2", "--out", trained / "galleries")
    assert result.returncode == 2
    assert f"put the gallery in a folder inside {trained / 'galleries'} or outside the run" in result.stderr
