"""Per-image scores (SIFID) of a gallery through the engine's file-based `osmis_core.evaluation.evaluate_gallery`
(which reads the gallery and the training data, scores them, writes metrics.json / metrics.csv and refreshes
index.html). The app never builds tensors itself; when the evaluation module is missing, scores are shown as
unavailable. Everything here runs in worker threads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

SCORE_METRICS = ["sifid"]  # the registry's metrics the gallery computes: cheap, and scored per image


def probe() -> tuple[bool, str]:
    """(available, reason or note). Available means the evaluation code is importable; a note tells about
    missing pretrained weights (the score button then explains which file is missing)."""
    try:
        from osmis_core.application.evaluation import evaluate_gallery  # noqa: F401
    except ImportError as exc:
        return False, f"this installation has no gallery evaluation (osmis_core.application.evaluation: {exc})"
    except Exception as exc:  # noqa: BLE001 - a broken metrics package must not break the app
        return False, f"the metrics package failed to load ({type(exc).__name__}: {exc})"
    try:
        from osmis_core.metrics.evaluate import missing_weights_for

        files = list(dict.fromkeys(f for fs in missing_weights_for(SCORE_METRICS).values() for f in fs))
        if files:
            return True, "needs the pretrained weights " + ", ".join(
                f.filename for f in files
            ) + " (not found in the torch hub cache)"
    except Exception:  # noqa: BLE001 - only a hint
        pass
    return True, ""


def normalise_metrics(data: Any) -> dict | None:
    """{'per_image': [{'index': i, 'sifid_64': ...}, ...], 'summary': {...}, 'warnings': [...],
    'not_computed': {metric: reason}} keeping only numeric per-image values; the summary as stored (a null
    score, a KEY_note beside its value: summary_text words them)."""
    if not isinstance(data, Mapping):
        return None
    rows: list[dict] = []
    per = data.get("per_image")
    if isinstance(per, list):
        for i, r in enumerate(per):
            if isinstance(r, Mapping):
                row = {
                    k: float(v)
                    for k, v in r.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "index"
                }
                row["index"] = int(r.get("index", i))
                rows.append(row)
    summary = dict(data.get("summary") or {})  # a null score is kept: it is shown as missing (summary_text)
    not_computed = {str(k): str(v) for k, v in dict(data.get("not_computed") or {}).items()}
    return {
        "per_image": rows,
        "summary": summary,
        "warnings": list(data.get("warnings") or []),
        "not_computed": not_computed,
    }


def score_keys(metrics: dict | None) -> list[str]:
    """Per-image score columns (not the index, nor a video's nearest-frame column), in the registry's order."""
    if not metrics:
        return []
    keys = {
        k
        for r in metrics.get("per_image", [])
        for k, v in r.items()
        if k != "index" and not k.endswith("_frame") and isinstance(v, (int, float))
    }
    order = _registry_key_order()
    return sorted(keys, key=lambda k: (order.get(k.split("_")[0], len(order)), k))


def _registry_key_order() -> dict[str, int]:
    """Position of each metric's key prefix in the registry (score columns follow the registry)."""
    from osmis_core.metrics import REGISTRY

    prefixes = [t.split("_")[0] for e in REGISTRY.values() for t in e.per_image_keys]
    return {p: i for i, p in reversed(list(enumerate(prefixes)))}


def key_label(key: str) -> str:
    """The registry's label of a score key ("SIFID, dims 64 (lower = better)"), or the key itself."""
    from osmis_core.metrics import key_info

    info = key_info(key)
    return key if info is None else info[0]


def not_computed_text(metrics: dict | None) -> str:
    """'SIFID: needs inception_v3_google-0cc3c7bd.pth; mIoU: skipped: ...' for the scores not computed."""
    from osmis_core.metrics import REGISTRY

    reasons = (metrics or {}).get("not_computed") or {}
    return "; ".join(f"{REGISTRY[m].label if m in REGISTRY else m}: {r}" for m, r in reasons.items())


def compute(
    gallery_dir: str,
    data_path: str,
    mask_path: str | None,
    device: str = "auto",
    progress: Callable[[str, int, int], None] | None = None,
    config=None,
) -> dict:
    """Per-image SIFID of the gallery; the engine writes metrics.json/csv and refreshes index.html."""
    from osmis_core.errors import OsmisError

    try:
        from osmis_core.application.evaluation import evaluate_gallery
    except ImportError:
        raise OsmisError("per-image scores are unavailable: this installation has no osmis_core.evaluation.") from None
    from osmis_core.devices import resolve_device

    options: dict = {}
    if config is not None:
        options = {"max_classes": config.data.max_classes, "background_colour": config.data.background_color}
    result = evaluate_gallery(
        gallery_dir,
        data_path,
        mask_path,
        metrics=list(SCORE_METRICS),
        device=str(resolve_device(device)),
        progress=progress,
        **options,
    )
    metrics = normalise_metrics(result)
    if not metrics or not score_keys(metrics):
        warnings = "; ".join((metrics or {}).get("warnings", [])) or "no per-image scores were returned"
        raise OsmisError(f"scores could not be computed: {warnings}.")
    return metrics


def summary_text(summary: dict) -> str:
    """'sifid_64 0.1234, lpips_diversity missing' : a metrics.json summary in the engine's words (a null score reads
    "missing", a note stands beside its value), as the CLI's table and the gallery's index.html give it."""
    from osmis_core.metrics.evaluate import summary_rows

    return ", ".join(f"{k} {text}" for k, text in summary_rows(summary))
