"""`osmis batch` on real Ray (local, 2 CPUs; and two nodes via ray.cluster_utils.Cluster), tiny models on CPU."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import TINY, init_ray, save_palette_mask, scene_arrays, tiny_flags
from PIL import Image

from osmis_core.application.runfolder import RunFolder
from osmis_core.batch import (
    BatchControl,
    BatchFolder,
    BatchStarted,
    RunFinished,
    RunProgress,
    RunStarted,
    list_sources,
    run_batch,
)
from osmis_core.cli import main
from osmis_core.config import build_config

ray = pytest.importorskip("ray")


def _sources(root: Path, n: int) -> Path:
    (root / "image").mkdir(parents=True)
    (root / "mask").mkdir()
    for i in range(n):
        img, ids = scene_arrays(seed=i)
        Image.fromarray(img).save(root / "image" / f"s{i}.png")
        save_palette_mask(ids, root / "mask" / f"s{i}.png")
    return root


def _rows(out: Path) -> dict:
    return {r["name"]: r for r in json.loads((out / "summary.json").read_text())["sources"]}


def test_list_sources_folder_and_lists(tmp_path):
    src = _sources(tmp_path / "src", 2)
    (src / "image" / "lonely.png").write_bytes((src / "image" / "s0.png").read_bytes())
    found = list_sources(src)
    assert [s.name for s in found] == ["lonely", "s0", "s1"]
    assert found[1].mask == (src / "mask" / "s0.png").resolve()
    assert found[0].problem and "lonely.png" in found[0].problem and "no mask" in found[0].problem
    (tmp_path / "list.json").write_text(
        json.dumps(
            [{"data": "src/image/s0.png", "mask": "src/mask/s0.png", "options": {"iters": 3}}, "src/image/s0.png"]
        )
    )
    listed = list_sources(tmp_path / "list.json")
    assert [s.name for s in listed] == ["s0", "s0-2"] and listed[0].options == {"iters": 3}
    (tmp_path / "list.csv").write_text(
        "data,mask,name,max_size,masks\nsrc/image/s1.png,src/mask/s1.png,a,64,false\nsrc/image/s0.png,,b,,\n"
    )
    a, b = list_sources(tmp_path / "list.csv")
    assert (a.name, a.options, b.options, b.mask) == ("a", {"max_size": 64, "masks": False}, {}, None)
    videos = tmp_path / "videos"
    (videos / "a_mask").mkdir(parents=True)
    (videos / "mask" / "b").mkdir(parents=True)
    for p in (
        videos / "a.mp4",
        videos / "b.mov",
        videos / "c.mp4",
        videos / "a_mask" / "0.png",
        videos / "mask" / "b" / "0.png",
    ):
        p.write_bytes(b"")
    assert [(s.name, s.mask) for s in list_sources(videos)] == [
        ("a", (videos / "a_mask").resolve()),
        ("b", (videos / "mask" / "b").resolve()),
        ("c", None),
    ]
    (tmp_path / "bad.csv").write_text("data,lr_gg\nx.png,1\n")
    with pytest.raises(Exception, match="bad.csv line 2: unknown option 'lr_gg'"):
        list_sources(tmp_path / "bad.csv")


def test_storage_probe_and_escaped_summary(tmp_path):
    """The per-node storage check (what a worker node runs), and a summary whose values are HTML-escaped."""
    from osmis_core.batch.sources import BatchSource
    from osmis_core.batch.summary import run_row, write_summary
    from osmis_core.batch.worker import check_storage

    assert "not the driver's folder" in check_storage(str(tmp_path / "elsewhere"), "t0k3n")
    (tmp_path / ".osmis-batch-probe-t0k3n").write_text("t0k3n")
    assert check_storage(str(tmp_path), "t0k3n") is None and not list(tmp_path.glob(".osmis-batch-write-*"))

    batch = BatchFolder(tmp_path / "b")
    evil = BatchSource("x", tmp_path / "<img src=x onerror=alert(1)>.png")
    row = run_row(batch, evil, "failed", 10, "<script>alert('bad')</script> & \"quoted\"")
    write_summary(batch, [row], {"n_per_source": 1})
    page = (tmp_path / "b" / "index.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page and "&amp; &quot;quoted&quot;" in page
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["sources"][0]["message"].startswith("<script>")


def test_bad_source_is_reported_and_the_others_finish(tmp_path, no_ray, capsys):
    """CLI with its own local Ray (2 CPUs): a corrupt image fails its source only; the summary names the file."""
    src = _sources(tmp_path / "src", 2)
    (src / "image" / "broken.png").write_bytes((src / "image" / "s0.png").read_bytes()[:200])
    (src / "mask" / "broken.png").write_bytes((src / "mask" / "s0.png").read_bytes())
    (src / "image" / "lonely.png").write_bytes((src / "image" / "s0.png").read_bytes())  # no mask
    out = tmp_path / "batch"
    code = main(
        [
            "batch",
            str(src),
            "--out",
            str(out),
            "--num-cpus",
            "2",
            "--n-per-source",
            "2",
            "--quiet",
            *tiny_flags(iters=2),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1, err
    rows = _rows(out)
    assert rows["s0"]["status"] == rows["s1"]["status"] == "finished"
    assert rows["broken"]["status"] == "failed"
    assert "broken.png" in rows["broken"]["message"] and "corrupt or truncated" in rows["broken"]["message"]
    assert "broken.png" in err
    assert rows["lonely"]["status"] == "failed" and "lonely.png: no mask named lonely.*" in rows["lonely"]["message"]
    with open(out / "summary.csv", newline="") as f:
        csv_rows = {r["name"]: r for r in csv.DictReader(f)}
    assert "corrupt or truncated" in csv_rows["broken"]["message"] and csv_rows["s0"]["status"] == "finished"
    page = (out / "index.html").read_text()
    assert "broken.png" in page and 'href="runs/s0/galleries/batch/index.html"' in page
    assert not (out / "runs" / "broken").exists()
    assert sorted(p.name for p in (out / "dataset" / "images").iterdir()) == [
        "s0_0000.png",
        "s0_0001.png",
        "s1_0000.png",
        "s1_0001.png",
    ]


def test_three_sources_dataset_summary_and_idempotent_rerun(tmp_path, local_ray, capsys):
    src = _sources(tmp_path / "src", 3)
    out = tmp_path / "batch"
    config = build_config(None, None, {**TINY, "iters": 2})
    events = list(run_batch(src, config, out, n_per_source=3, cpus_per_run=1))
    assert isinstance(events[0], BatchStarted) and events[0].to_run == ("s0", "s1", "s2")
    finished = {e.name: e for e in events if isinstance(e, RunFinished)}
    assert {k: e.status for k, e in finished.items()} == {"s0": "finished", "s1": "finished", "s2": "finished"}
    assert {e.name for e in events if isinstance(e, RunProgress)} == {"s0", "s1", "s2"}
    batch = BatchFolder(out)
    for name in ("s0", "s1", "s2"):
        folder = RunFolder(batch.run_dir(name))
        assert folder.exists() and folder.latest_step() == 2
        manifest = batch.gallery_manifest(name)
        assert manifest["n"] == 3 and manifest["checkpoint_step"] == 2
        assert (batch.gallery_dir(name) / "index.html").is_file()

    info = json.loads((out / "dataset" / "dataset.json").read_text())
    images = sorted(p.stem for p in (out / "dataset" / "images").glob("*.png"))
    masks = sorted(p.stem for p in (out / "dataset" / "masks").glob("*.png"))
    assert images == masks == [f"s{i}_{j:04d}" for i in range(3) for j in range(3)]
    assert sorted(Path(f["image"]).stem for f in info["files"]) == images
    f0 = info["files"][0]
    assert (f0["source"], f0["run"], f0["checkpoint_step"], f0["seed"], f0["index"]) == ("s0", "runs/s0", 2, 0, 0)
    palettes = set()
    for stem in masks:
        im = Image.open(out / "dataset" / "masks" / f"{stem}.png")
        assert im.mode == "P" and np.asarray(im).max() < 3
        palettes.add(tuple(im.getpalette()[:9]))
        assert Image.open(out / "dataset" / "images" / f"{stem}.png").size == im.size
    assert len(palettes) == 1 and [list(c) for c in np.reshape(palettes.pop(), (3, 3))] == info["palette"][:3]

    rows = _rows(out)
    assert all(r["status"] == "finished" and r["iterations"] == 2 and r["seconds"] > 0 for r in rows.values())
    assert all(r["metrics"]["diversity"] > 0 and "g_total" in r["metrics"] for r in rows.values())
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.pt")}

    # the same command again, through the CLI: nothing is trained, nothing rewritten in the runs
    assert main(["batch", str(src), "--out", str(out), "--n-per-source", "3", "--quiet", *tiny_flags(iters=2)]) == 0
    err = capsys.readouterr().err
    assert "s0: skipped" in err and "3 finished" in err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.pt")} == mtimes
    assert all("resumed" not in RunFolder(batch.run_dir(n)).log_file.read_text() for n in ("s0", "s1", "s2"))
    assert _rows(out)["s1"]["seconds"] == rows["s1"]["seconds"]

    # longer runs asked for, then a stop request (what Ctrl-C sends): the running runs resume from their
    # checkpoint (not restarted) and stop with a checkpoint; the queued one never starts
    control = BatchControl()
    events = []
    for event in run_batch(src, config.replace(iters=400), out, n_per_source=3, max_concurrent=2, control=control):
        events.append(event)
        if isinstance(event, RunProgress) and sum(isinstance(e, RunStarted) for e in events) == 2:
            control.request_stop()  # once both have started (a run not started yet would simply not start)
    starts = [e for e in events if isinstance(e, RunStarted)]
    assert len(starts) == 2 and all(e.resumed and e.step == 2 for e in starts)
    assert sorted(e.status for e in events if isinstance(e, RunFinished)) == ["pending", "stopped", "stopped"]
    rows = _rows(out)
    assert sorted(r["status"] for r in rows.values()) == ["pending", "stopped", "stopped"]
    for name, row in rows.items():
        folder = RunFolder(batch.run_dir(name))
        if row["status"] == "stopped":
            assert (
                2 <= folder.latest_step() < 400
                and f"stopped at step {folder.latest_step()}" in folder.log_file.read_text()
            )
        else:
            assert folder.latest_step() == 2 and "resumed" not in folder.log_file.read_text()


def test_a_source_stopped_by_a_health_check_is_failed_not_resumable(tmp_path, local_ray, monkeypatch):
    """The worker's own function, run here under a real local Ray (its monitor a real actor), with a collapse
    detector that always fires: the source failed, with the sentence the CLI prints (check, step, kept checkpoint)."""
    import osmis_core.training.monitor as monitor
    from osmis_core.batch.sources import BatchSource
    from osmis_core.batch.worker import BatchMonitor, train_source
    from osmis_core.config import OsmisConfig
    from osmis_core.training.health import DiversityCollapse

    monkeypatch.setattr(monitor, "DiversityCollapse", lambda: DiversityCollapse(1e9, patience=1, after_healthy=False))
    src = _sources(tmp_path / "src", 1)
    source = BatchSource("s0", src / "image" / "s0.png", src / "mask" / "s0.png")
    options = {**TINY, "iters": 6, "eval_every": 4, "bernoulli_warmup": 0, "on_collapse": "stop"}
    result = train_source(
        source.to_dict(),
        OsmisConfig().replace(**options).to_dict(),
        str(tmp_path / "batch"),
        2,
        1,
        str(tmp_path / "batch" / "stop"),
        ray.remote(BatchMonitor).remote(),
    )
    assert result["status"] == "failed", result
    assert "health check" in result["message"] and "diversity collapse at step 4" in result["message"]
    assert "step_0000002.pt is kept as latest" in result["message"]


def test_two_nodes_spread_and_a_lost_node_costs_only_work_since_its_checkpoint(tmp_path, no_ray):
    """Two Ray nodes on this machine (one CPU each): the runs spread over both; the second node is removed while
    its run trains, and that run is retried on the head node, resuming from its last checkpoint."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        worker_node = cluster.add_node(num_cpus=1)
        init_ray(address=cluster.address, log_to_driver=False)
        cluster.wait_for_nodes()
        src = _sources(tmp_path / "src", 2)
        out = tmp_path / "batch"
        config = build_config(None, None, {**TINY, "iters": 24, "checkpoint_every": 2})
        starts, removed_run = [], None
        finished = {}
        for event in run_batch(src, config, out, n_per_source=2, address=cluster.address, retries=2):
            if isinstance(event, RunStarted):
                starts.append(event)
            elif (
                isinstance(event, RunProgress)
                and removed_run is None
                and event.step >= 5
                and any(s.name == event.name and s.node == worker_node.node_id for s in starts)
            ):
                removed_run = event.name  # its checkpoint of step 4 is on disk
                cluster.remove_node(worker_node)
            elif isinstance(event, RunFinished):
                finished[event.name] = event
        assert len({s.node for s in starts if s.attempt == 1}) == 2
        assert removed_run is not None
        assert {k: e.status for k, e in finished.items()} == {"s0": "finished", "s1": "finished"}
        retry = [s for s in starts if s.name == removed_run and s.attempt == 2]
        assert retry and retry[0].resumed and retry[0].step >= 4 and retry[0].node != worker_node.node_id
        log = RunFolder(out / "runs" / removed_run).log_file.read_text()
        assert f"resumed at step {retry[0].step} of 24" in log and log.count("started at step 0") == 1
        assert _rows(out)[removed_run]["attempts"] == 2
        assert len(list((out / "dataset" / "masks").glob("*.png"))) == 4
    finally:
        ray.shutdown()
        cluster.shutdown()
