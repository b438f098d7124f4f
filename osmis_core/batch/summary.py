"""BATCH/summary.json, summary.csv and index.html: one row per source."""

from __future__ import annotations

import csv
import html
import io
import json
import time
from pathlib import Path

from ..application.runfolder import RunFolder
from ..files import atomic_write_text
from .layout import BatchFolder

CSV_COLUMNS = (
    "name",
    "status",
    "iterations",
    "total",
    "seconds",
    "attempts",
    "node",
    "diversity",
    "g_total",
    "d_total",
    "d_real",
    "d_fake",
    "gallery",
    "message",
    "data",
    "mask",
)
STATUSES = ("finished", "stopped", "failed", "pending")


def read_summary(batch: BatchFolder) -> dict[str, dict]:
    """The rows of an earlier summary.json by source name ({} when there is none or it cannot be read)."""
    try:
        data = json.loads(batch.summary_json.read_text(encoding="utf-8"))
        return {r["name"]: r for r in data.get("sources", []) if isinstance(r, dict) and "name" in r}
    except (OSError, ValueError, AttributeError):
        return {}


def run_row(
    batch: BatchFolder,
    source,
    status: str,
    total: int,
    message: str = "",
    seconds: float | None = None,
    node: str | None = None,
    attempts: int | None = None,
) -> dict:
    """A source's summary row, read from its run folder and gallery (what is on disk, not what was hoped for).

    seconds: this source's own work over all its attempts (None: unknown, e.g. a run finished elsewhere).
    Metrics: the gallery's pixel diversity (weight-free) and the last logged losses and mean D logits.
    """
    folder = RunFolder(batch.run_dir(source.name))
    step = folder.latest_step() if folder.exists() else None
    manifest = batch.gallery_manifest(source.name)
    metrics: dict = {}
    last = _last_stats(folder.stats)
    metrics.update({k: last[k] for k in ("g_total", "d_total", "d_real", "d_fake") if k in last})
    if manifest is not None:
        try:
            scores = json.loads((batch.gallery_dir(source.name) / "metrics.json").read_text(encoding="utf-8"))
            if "pixel_diversity" in scores.get("summary", {}):
                metrics["diversity"] = scores["summary"]["pixel_diversity"]
        except (OSError, ValueError):
            pass
    rel = batch.run_dir(source.name).relative_to(batch.root)
    return {
        "name": source.name,
        "status": status,
        "iterations": step or 0,
        "total": total,
        "seconds": None if seconds is None else round(seconds, 3),
        "attempts": attempts,
        "node": node,
        "message": message,
        "metrics": metrics,
        "data": str(source.data),
        "mask": str(source.mask) if source.mask else None,
        "options": dict(source.options),
        "run": str(rel),
        "gallery": str(batch.gallery_dir(source.name).relative_to(batch.root) / "index.html")
        if manifest is not None
        else None,
        "checkpoint_step": manifest["checkpoint_step"] if manifest else None,
    }


def _last_stats(path: Path, tail: int = 8192) -> dict:
    """The last complete line of stats.jsonl (a paper run's file has 15,000 lines: only its end is read)."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - tail))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return {}
    for line in reversed(lines):
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash, or by the tail's start
        if isinstance(row, dict):
            return row
    return {}


def write_summary(batch: BatchFolder, rows: list[dict], info: dict) -> None:
    """summary.json (info + rows), summary.csv (one line per source) and a self-contained index.html. info's
    "dataset_pairs": the merged dataset's pairs, None when no run finished and there is no dataset (the page then
    links none)."""
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    doc = {"batch": {**info, "counts": counts, "written": time.strftime("%Y-%m-%dT%H:%M:%S")}, "sources": rows}
    atomic_write_text(batch.summary_json, json.dumps(doc, indent=1) + "\n")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for r in rows:
        w.writerow([_cell(r.get(c, r["metrics"].get(c))) for c in CSV_COLUMNS])
    atomic_write_text(batch.summary_csv, buf.getvalue())
    atomic_write_text(batch.index_html, _html(rows, doc["batch"]))


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _html(rows: list[dict], info: dict) -> str:
    e = html.escape
    head = "".join(
        f"<th>{e(c)}</th>"
        for c in ("source", "status", "iterations", "seconds", "diversity", "g_total", "d_total", "gallery", "message")
    )
    body = []
    for r in rows:
        m = r["metrics"]
        link = f'<a href="{e(Path(r["gallery"]).as_posix(), quote=True)}">gallery</a>' if r.get("gallery") else ""
        cells = [
            e(r["name"]),
            e(r["status"]),
            e(f"{r['iterations']}/{r['total']}"),
            e(_cell(r.get("seconds"))),
            e(_cell(m.get("diversity"))),
            e(_cell(m.get("g_total"))),
            e(_cell(m.get("d_total"))),
            link,
            e(r.get("message") or ""),
        ]
        body.append(f'<tr class="{e(r["status"], quote=True)}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    counts = ", ".join(f"{e(str(v))} {e(k)}" for k, v in info["counts"].items() if v)
    dataset = (
        "No merged dataset: no source's run finished."
        if info.get("dataset_pairs", 0) is None
        else 'Merged dataset: <a href="dataset/dataset.json">dataset/</a>.'
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>OSMIS batch</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
table {{ border-collapse: collapse; }} th, td {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; }}
tr.failed td {{ background: #fdd; }} tr.stopped td, tr.pending td {{ background: #ffd; }}
</style></head><body>
<h1>OSMIS batch</h1>
<p>{len(rows)} source{"" if len(rows) == 1 else "s"}: {counts}. {dataset}</p>
<table><tr>{head}</tr>
{"".join(body)}
</table></body></html>
"""
