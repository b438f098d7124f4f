"""Before the window opens: can Qt load its X11 (xcb) platform plugin? If not, say which system packages to install.

Qt aborts the process when its platform plugin does not load ("could not load the Qt platform plugin xcb"), and
its message names at most one library (often the wrong one: on Debian 12 it named libxcb-cursor0 while
libxcb-icccm4 and libxcb-keysyms1 were missing). The plugin's shared-library dependencies are checked here first,
with the dynamic loader itself (dlopen), and when that fails every missing one is listed by `ldd`.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from osmis_core.errors import OsmisError

# Debian/Ubuntu packages whose name does not follow from the library's soname by the packaging policy's rule.
_PACKAGE_EXCEPTIONS = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
}


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that ships a library, by the library packaging policy (lower-case soname stem +
    version, with a '-' between them when the stem ends in a digit): 'libxcb-icccm.so.4' -> 'libxcb-icccm4',
    'libxkbcommon-x11.so.0' -> 'libxkbcommon-x11-0', 'libX11-xcb.so.1' -> 'libx11-xcb1'."""
    if soname in _PACKAGE_EXCEPTIONS:
        return _PACKAGE_EXCEPTIONS[soname]
    m = re.fullmatch(r"(.+)\.so\.(\d+)(?:\..*)?", soname)
    if not m:
        return soname
    stem, version = m.group(1).lower(), m.group(2)
    return f"{stem}-{version}" if stem[-1].isdigit() else f"{stem}{version}"


def missing_libraries(library: str | Path) -> list[str]:
    """Sonames that `library` needs (directly or through its dependencies) and the loader cannot find, in ldd's
    order; [] when it loads. Linux (glibc) only: uses dlopen, then ldd to list every missing one."""
    try:
        ctypes.CDLL(str(library), mode=os.RTLD_LAZY)
        return []
    except OSError as exc:
        first = str(exc)
    ldd = shutil.which("ldd")
    if ldd is not None:
        out = subprocess.run([ldd, str(library)], capture_output=True, text=True, check=False).stdout
        found = [line.split("=>")[0].strip() for line in out.splitlines() if "not found" in line]
        if found:
            return list(dict.fromkeys(found))
    m = re.match(r"([^:]+\.so[.\d]*): cannot open shared object file", first)
    return [m.group(1)] if m else [first]


def xcb_plugin() -> Path | None:
    """The xcb platform plugin of the installed Qt (None when this Qt has none)."""
    from PySide6.QtCore import QLibraryInfo

    path = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms" / "libqxcb.so"
    return path if path.is_file() else None


def check_platform(environ: dict | None = None) -> None:
    """Raise OsmisError with what to do when the window cannot open on X11: missing system libraries (named, with
    the apt-get line) or no display. Does nothing off Linux or when another platform is chosen (QT_QPA_PLATFORM,
    e.g. offscreen or wayland)."""
    environ = os.environ if environ is None else environ
    platform = environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or (platform and not platform.startswith("xcb")):
        return
    if not platform and environ.get("WAYLAND_DISPLAY"):
        return  # Qt may choose its wayland plugin
    plugin = xcb_plugin()
    if plugin is None:
        return
    missing = missing_libraries(plugin)
    if missing:
        packages = " ".join(dict.fromkeys(debian_package(s) for s in missing))
        raise OsmisError(
            f"the desktop app cannot open its window: Qt's X11 platform plugin ({plugin.name}) needs "
            f"{', '.join(missing)}, not installed on this system; on Debian/Ubuntu install them with "
            f"`sudo apt-get install {packages}` (README.md lists every package the app needs)."
        )
    if not environ.get("DISPLAY"):
        raise OsmisError(
            "the desktop app cannot open its window: no display (DISPLAY is not set); start it in a "
            "desktop session, under `xvfb-run`, or with QT_QPA_PLATFORM=offscreen to run headless."
        )
