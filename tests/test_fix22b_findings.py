"""Findings left open by earlier testers, fixed on branch fix22b: one small test each (tiny settings, CPU)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from helpers import osmis_cli

from osmis_core.application.gallery import write_index_html
from osmis_core.config import OsmisConfig, config_warnings, flag_naming, option_label


def test_a_value_far_above_usual_is_named_by_whoever_gave_it():
    """config_warnings names an option as the caller says: the CLI by the flag typed (flag_naming), the app's form by
    the field's label (option_label); a library caller without a naming gets "option 'NAME'"."""
    config = OsmisConfig().replace(lr_g=1.0, lr_d=1e20)
    assert [w.split(" = ")[0] for w in config_warnings(config)] == ["option 'lr_g'", "option 'lr_d'"]
    assert [w.split(" = ")[0] for w in config_warnings(config, option_label)] == ["LR G", "LR D"]
    typed = flag_naming({"lr_d": 1e20})
    assert [w.split(" = ")[0] for w in config_warnings(config, typed)] == ["option 'lr_g'", "--lr-d"]


def test_inspect_names_a_typed_flag_by_the_flag_and_a_config_files_option_by_the_option(scene, tmp_path, capsys):
    """`osmis inspect DATA --config C --lr-g 1` with C setting lr_d far above usual: the flag typed is named as
    typed (--lr-g), the file's option as the file's (option 'lr_d'), each in its own warning."""
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"lr_d": 5.0}), encoding="utf-8")
    r = osmis_cli(capsys, "inspect", scene, "--config", config, "--lr-g", "1")
    assert r.returncode == 0, r.stderr
    assert "--lr-g = 1 is far above usual values" in r.stderr, r.stderr
    assert "option 'lr_d' = 5 is far above usual values" in r.stderr, r.stderr
    assert "option 'lr_g'" not in r.stderr, r.stderr


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _order_after(page: str, tmp_path, call: str) -> list[int]:
    """The item order of the gallery page after `call` (JavaScript) ran in headless Chromium: the page as written,
    with the call appended as a user's click on a sort button would make it."""
    sorted_page = tmp_path / "sorted.html"
    sorted_page.write_text(page.replace("</body>", f"<script>{call}</script></body>"), encoding="utf-8")
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", sorted_page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return [int(i) for i in re.findall(r'<figure data-index="(\d+)"', dom)]


@pytest.mark.skipif(CHROMIUM is None, reason="needs a headless Chromium to run the page's script")
def test_the_gallery_page_sorts_items_without_a_score_last_both_ways_in_item_order(tmp_path):
    """The exported page sorts by a score low to high and high to low (buttons for both, as the app's Gallery page
    sorts); items without that score come last either way, in item order, and ties keep item order."""
    items = [{"index": i, "image": f"images/{i:04d}.png"} for i in range(7)]
    scored = {0: 0.5, 2: 0.1, 3: 0.5, 5: 0.9}  # 1, 4, 6: no score (3 ties with 0)
    metrics = {"summary": {}, "per_image": [{"index": i, "sifid_64": v} for i, v in scored.items()]}
    page = write_index_html(tmp_path, {"run": "r", "checkpoint_step": 1, "seed": 0, "items": items}, metrics)
    text = page.read_text(encoding="utf-8")
    assert "sortBy('sifid-64', 1)" in text and "sortBy('sifid-64', -1)" in text
    assert _order_after(text, tmp_path, "sortBy('sifid-64', 1)") == [2, 0, 3, 5, 1, 4, 6]
    assert _order_after(text, tmp_path, "sortBy('sifid-64', -1)") == [5, 0, 3, 2, 1, 4, 6]
    assert _order_after(text, tmp_path, "sortBy('sifid-64', -1); sortBy('index', 1)") == list(range(7))
