"""New-user session 28 (README's commands on the example with tiny settings, then odd inputs): one small test per
finding (tiny settings, CPU), each fixed."""

import pytest
from helpers import folder_bytes, osmis_cli, tiny_flags, two_iteration_run


def test_train_refuses_out_inside_an_existing_run_folder(scene, tmp_path, capsys):
    run = two_iteration_run(scene, tmp_path / "run")
    before = folder_bytes(run)
    inner = run / "checkpoints" / "x"
    res = osmis_cli(capsys, "train", scene, "--out", inner, "--quiet", *tiny_flags(iters=2))
    err = res.stderr.strip()
    assert res.returncode == 2, err
    assert len(err.splitlines()) == 1 and ("--out" in err or str(run) in err), err
    assert "Traceback" not in err
    assert not inner.exists(), "a refused --out must leave nothing written"
    assert folder_bytes(run) == before


def test_folder_named_like_a_checkpoint_is_not_listed_as_one(scene, tmp_path, capsys):
    run = two_iteration_run(scene, tmp_path / "run")
    (run / "checkpoints" / "step_0000099.pt").mkdir()
    res = osmis_cli(capsys, "generate", run, "--n", "1", "--checkpoint", "99", "--out", tmp_path / "gallery")
    err = res.stderr.strip()
    assert res.returncode == 2, err
    assert len(err.splitlines()) == 1, err
    assert "99)" not in err and "99," not in err, f"the folder is listed as a checkpoint: {err}"
    assert not (tmp_path / "gallery").exists()


@pytest.mark.parametrize("iters", ["0", "-1"])
def test_bench_refuses_iters_below_one(scene, capsys, iters):
    res = osmis_cli(capsys, "bench", scene, "--iters", iters, "--max-size", "96", "--device", "cpu")
    err = res.stderr.strip()
    assert res.returncode == 2, err
    assert len(err.splitlines()) == 1 and "--iters" in err, err
    assert "Traceback" not in err
