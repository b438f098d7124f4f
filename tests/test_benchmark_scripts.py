"""Every script under benchmarks/ and scripts/ imports against the current engine (their imports break silently when
the engine moves a name, as bench_miou's did): each is loaded as a module, which runs its imports and top-level
definitions but not its `__main__` block."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted([*ROOT.glob("benchmarks/*.py"), *ROOT.glob("scripts/*.py")])

LOADER = """
import importlib.util, sys, traceback
failed = []
for i, path in enumerate(sys.argv[1:]):
    name = f"script_under_test_{i}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    except Exception:
        failed.append(path + ": " + traceback.format_exc().strip().splitlines()[-1])
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_there_are_scripts():
    assert len(SCRIPTS) >= 10


def test_every_benchmark_and_script_imports():
    result = subprocess.run(
        [sys.executable, "-c", LOADER, *map(str, SCRIPTS)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
