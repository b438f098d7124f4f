"""Breaker session 32: the self-contained HTML pages (a gallery's and a batch's index.html) against hostile names
and values: each finding one small test (CPU, no training)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

from osmis_core.application.gallery import write_index_html

HOSTILE_RUN = "<script>alert(1)</script>\"'&#?%20 \u202e\u00e9\nrun"


class _Tags(HTMLParser):
    """Every start tag with its attributes, as a browser's parser sees them."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def _page(tmp_path: Path, metrics: dict | None) -> str:
    manifest = {
        "run": HOSTILE_RUN,
        "seed": 0,
        "checkpoint_step": 2,
        "items": [{"index": 0, "image": "images/0000.png", "mask": "masks/0000.png"}],
    }
    return write_index_html(tmp_path, manifest, metrics).read_text(encoding="utf-8")


def test_a_score_name_from_a_hand_edited_metrics_file_injects_no_attribute_nor_script(tmp_path):
    """A metrics.json's per-image key becomes an attribute name (data-KEY) and a JavaScript string in a sort button's
    onclick, where HTML-escaping does not protect (onclick's entities are decoded before the script runs): a key
    'x onmouseover=alert(1) y' added an onmouseover attribute to the figure, and "a');alert(1);//" ran alert on a
    click. Such keys are now neither attributes nor buttons; plain names (sifid_64) still sort."""
    metrics = {
        "summary": {},
        "per_image": [
            {"index": 0, "x onmouseover=alert(1) y": 0.5, "a');alert(1);//": 0.2, "sifid_64": 0.5},
        ],
    }
    tags = _tags(_page(tmp_path, metrics))
    figure = next(attrs for tag, attrs in tags if tag == "figure")
    assert set(figure) == {"data-index", "data-sifid-64"}, figure
    assert figure["data-sifid-64"] == "0.5"
    onclicks = [attrs["onclick"] for tag, attrs in tags if tag == "button"]
    assert onclicks == ["sortBy('index', 1)", "sortBy('sifid-64', 1)", "sortBy('sifid-64', -1)"], onclicks


def test_a_hostile_run_name_is_text_and_every_picture_link_resolves(tmp_path):
    """The run's name (script tag, quotes, '&', '#', '?', '%20', a right-to-left mark, a newline) is text in the
    page, no element; each img src, percent-decoded as a browser does, names a file next to the page."""
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    (tmp_path / "images" / "0000.png").write_bytes(b"")
    (tmp_path / "masks" / "0000.png").write_bytes(b"")
    page = _page(tmp_path, None)
    tags = _tags(page)
    assert [t for t, _ in tags].count("script") == 1  # the page's own sort script only
    assert "<script>alert(1)</script>" not in page
    srcs = [attrs["src"] for tag, attrs in tags if tag == "img"]
    assert srcs and all((tmp_path / unquote(s)).is_file() for s in srcs), srcs


def test_a_right_to_left_mark_in_the_run_name_does_not_reverse_the_pages_sentence(tmp_path):
    """A run folder named with U+202E (right-to-left override): the page's sentence '2 samples from RUN at step 4
    (EMA generator, seed 0); image, class mask.' showed reversed after the name in Chromium. The name is isolated
    in a <bdi> element, so the override ends with it."""
    page = _page(tmp_path, None)
    tags = [t for t, _ in _tags(page)]
    assert "bdi" in tags
    start = page.index("<bdi>")
    assert "\u202e" in page[start : page.index("</bdi>", start)]


def _batch_row(name: str, message: str, gallery: str | None) -> dict:
    return {
        "name": name,
        "status": "failed",
        "iterations": 0,
        "total": 2,
        "seconds": None,
        "metrics": {"diversity": float("nan")},
        "gallery": gallery,
        "message": message,
    }


def test_the_batch_page_escapes_a_failed_sources_message_and_counts_one_source_in_the_singular(tmp_path):
    """A failed source's message quotes its data path, which may hold a script tag, quotes and a right-to-left
    mark: it is text in its own cell (held). The page said '1 sources:' for a batch of one."""
    from osmis_core.batch.summary import _html

    hostile = "/d/<script>alert(1)</script>\"'&#?%20 \u202e/x.png: corrupt"
    page = _html([_batch_row("s0", hostile, None)], {"counts": {"failed": 1}, "dataset_pairs": None})
    tags = [t for t, _ in _tags(page)]
    assert "script" not in tags and tags.count("tr") == 2, tags
    assert "<p>1 source: 1 failed." in page, page


def test_a_nan_score_reads_on_the_page_as_in_metrics_json(tmp_path):
    """metrics.json stores NaN/infinity as null, shown 'missing' (fix34; 'not a number' before) in the summary and
    the per-image captions; the page `osmis evaluate` writes from its in-memory NaN said 'nan' (and sorted by
    data-x="nan"), while the page of an export of the same scores said 'not a number'. Both now read as the file."""
    raw = {"summary": {"sifid_64": float("nan")}, "per_image": [{"index": 0, "sifid_64": float("inf")}]}
    stored = {"summary": {"sifid_64": None}, "per_image": [{"index": 0, "sifid_64": None}]}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert _page(tmp_path / "a", raw) == _page(tmp_path / "b", stored)


def test_a_gallery_of_no_items_says_so_without_an_empty_picture_list(tmp_path):
    """read_manifest takes a manifest with no items; its page said '0 samples from r at step 2 (EMA generator,
    seed 0); .' with an empty list of the pictures shown."""
    manifest = {"run": "r", "seed": 0, "checkpoint_step": 2, "items": []}
    page = write_index_html(tmp_path, manifest).read_text(encoding="utf-8")
    assert "(EMA generator, seed 0).</p>" in page, page
