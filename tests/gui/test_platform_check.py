"""Before the window opens, missing system libraries of Qt's xcb plugin are named with the packages to install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from osmis_core.errors import OsmisError
from osmis_gui.platform_check import check_platform, debian_package, missing_libraries, xcb_plugin

ROOT = Path(__file__).resolve().parents[2]
linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux shared libraries")


def test_debian_package_names():
    assert debian_package("libxcb-icccm.so.4") == "libxcb-icccm4"
    assert debian_package("libxcb-keysyms.so.1") == "libxcb-keysyms1"
    assert debian_package("libxcb-cursor.so.0") == "libxcb-cursor0"
    assert debian_package("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert debian_package("libX11-xcb.so.1") == "libx11-xcb1"
    assert debian_package("libEGL.so.1") == "libegl1"
    assert debian_package("libdbus-1.so.3") == "libdbus-1-3"
    assert debian_package("libglib-2.0.so.0") == "libglib2.0-0"


@linux
@pytest.mark.skipif(shutil.which("cc") is None, reason="builds two small shared libraries with a C compiler")
def test_missing_libraries_are_all_named(tmp_path):
    """A real library whose two dependencies were removed after linking: both are named, and the check raises
    with the apt-get line."""
    for name in ("osmisgone", "osmisalsogone"):
        (tmp_path / f"{name}.c").write_text(f"int {name}(void) {{ return 1; }}\n")
        subprocess.run(
            [
                "cc",
                "-shared",
                "-fPIC",
                "-o",
                str(tmp_path / f"lib{name}.so.2"),
                f"-Wl,-soname,lib{name}.so.2",
                str(tmp_path / f"{name}.c"),
            ],
            check=True,
        )
        (tmp_path / f"lib{name}.so").symlink_to(tmp_path / f"lib{name}.so.2")
    (tmp_path / "plugin.c").write_text(
        "int osmisgone(void); int osmisalsogone(void);\nint plugin(void) { return osmisgone() + osmisalsogone(); }\n"
    )
    plugin = tmp_path / "libplugin.so"
    subprocess.run(
        [
            "cc",
            "-shared",
            "-fPIC",
            "-o",
            str(plugin),
            str(tmp_path / "plugin.c"),
            f"-L{tmp_path}",
            "-losmisgone",
            "-losmisalsogone",
        ],
        check=True,
    )
    for name in ("osmisgone", "osmisalsogone"):
        (tmp_path / f"lib{name}.so").unlink()
        (tmp_path / f"lib{name}.so.2").unlink()
    assert missing_libraries(plugin) == ["libosmisgone.so.2", "libosmisalsogone.so.2"]


def readme_packages() -> set[str]:
    """The packages of README's `sudo apt-get install` line for the app's system libraries."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("sudo apt-get install libegl1")
    line = text[start : text.index("```", start)].replace("\\\n", " ")
    return set(line.split()[3:])


@linux
def test_readme_installs_every_library_the_xcb_plugin_lacks_here():
    """Whatever this machine lacks of the plugin's libraries, README's apt-get line installs it (nothing is missing
    where README's packages are installed)."""
    plugin = xcb_plugin()
    if plugin is None:
        pytest.skip("this Qt has no xcb plugin")
    assert {"libxcb-icccm4", "libxcb-keysyms1", "libxcb-cursor0"} <= readme_packages()
    assert {debian_package(s) for s in missing_libraries(plugin)} <= readme_packages()


@linux
def test_no_display_is_a_sentence_not_an_abort():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    plugin = xcb_plugin()
    # missing libraries are named first: with them, no display could help
    said = "not installed on this system" if plugin is not None and missing_libraries(plugin) else "DISPLAY is not set"
    with pytest.raises(OsmisError, match=said):
        check_platform(env)
    check_platform({**env, "QT_QPA_PLATFORM": "offscreen"})  # another platform: nothing to check
    out = subprocess.run(
        [sys.executable, "-m", "osmis_core", "gui"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2 and said in out.stderr and "Aborted" not in out.stderr


@linux
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run (apt-get install xvfb)")
def test_app_opens_on_x11_under_xvfb():
    """The real xcb platform plugin on a virtual X server: the window opens and the event loop runs."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    code = (
        "import osmis_gui.app as a\n"
        "from PySide6.QtCore import QTimer\n"
        "make = a.create_app\n"
        "def create(*args):\n"
        "    app = make(*args)\n"
        "    QTimer.singleShot(1500, lambda: (print('PLATFORM', app.platformName(), flush=True), app.quit()))\n"
        "    return app\n"
        "a.create_app = create\n"
        "raise SystemExit(a.run_app())\n"
    )
    out = subprocess.run(
        ["xvfb-run", "-a", sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "PLATFORM xcb" in out.stdout
