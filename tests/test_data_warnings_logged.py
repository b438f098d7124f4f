"""A warning raised while the training data is read (a dark 16-bit image, a video decoded only in part) is shown
once, as before, and written to the run's log.txt at the start and at each resume, so a later look at the run (or a
batch that skips a finished run) still shows it (breaker 16's open finding; session._load_data_noted)."""

from __future__ import annotations

import numpy as np
from helpers import scene_arrays, tiny_flags
from PIL import Image

from osmis_core.cli import main


def test_a_data_warning_is_shown_once_and_kept_in_log_txt(tmp_path, capsys):
    img, _ = scene_arrays()
    Image.fromarray(img[..., 0].astype(np.uint16) * 16).save(tmp_path / "x.png")  # 12-bit values, 16-bit file
    run = tmp_path / "run"
    assert main(["train", str(tmp_path / "x.png"), "--out", str(run), "--quiet", *tiny_flags(iters=2)]) == 0
    err = capsys.readouterr().err
    assert err.count("about 12 bits") == 1
    log = (run / "log.txt").read_text()
    assert log.count("data warning: ") == 1 and "a 16-bit image whose brightest value is" in log
    assert main(["train", str(run), "--resume", "--iters", "3", "--quiet"]) == 0
    assert capsys.readouterr().err.count("about 12 bits") == 1
    assert (run / "log.txt").read_text().count("data warning: ") == 2
