"""The house rules that check themselves: import-linter contracts (the engine never imports Qt; the engine's layers)
and ruff. A missing tool is a failure here, not a skip: the rules would silently stop being checked."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    path = Path(sys.executable).with_name(name)
    if not path.exists():
        pytest.fail(
            f"{name} is not installed next to {sys.executable}; install the test extras (pip install -e '.[test]')."
        )
    return str(path)


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}  # this checkout's osmis_core, not an installed one
    return subprocess.run(
        [_tool("lint-imports"), "--config", str(root / "setup.cfg")], cwd=root, env=env, capture_output=True, text=True
    )


def test_import_contracts_hold():
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " kept, 0 broken" in result.stdout


def test_layers_contract_catches_an_upward_import(tmp_path):
    """The contract has teeth: the data layer importing a use case breaks it."""
    for package in ("osmis_core", "osmis_gui"):  # the root packages of setup.cfg's contracts
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "setup.cfg", tmp_path / "setup.cfg")
    masks = tmp_path / "osmis_core" / "data" / "masks.py"
    masks.write_text(masks.read_text() + "\nfrom ..application import gallery  # noqa: E402,F401\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "osmis_core.data.masks -> osmis_core.application.gallery" in result.stdout


def test_ruff_check_is_clean():
    """The lint rules of pyproject.toml hold over the whole tree."""
    result = subprocess.run([_tool("ruff"), "check", "--no-cache", "."], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    """Every Python file is formatted as `ruff format` writes it (pyproject.toml's settings)."""
    result = subprocess.run(
        [_tool("ruff"), "format", "--check", "--no-cache", "."], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
