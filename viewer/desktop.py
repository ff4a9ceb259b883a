"""User-level desktop integration: a launcher, the ``image/x-sgc`` MIME type, an icon.

Files go under ``$XDG_DATA_HOME`` (default ``~/.local/share``), nothing system-wide,
and :func:`uninstall` removes exactly what :func:`install` wrote.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

DESKTOP_FILE = "sgc-viewer.desktop"
MIME_FILE = "sgcformat-mime.xml"
ICON_FILE = "sgc-viewer.svg"


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def _targets(base: Path) -> dict[str, Path]:
    return {
        DESKTOP_FILE: base / "applications" / DESKTOP_FILE,
        MIME_FILE: base / "mime" / "packages" / MIME_FILE,
        ICON_FILE: base / "icons" / "hicolor" / "scalable" / "apps" / ICON_FILE,
    }


def _launcher() -> str:
    """The command that starts this viewer, absolute so it works outside a virtualenv."""
    script = shutil.which("sgc-viewer")
    if script:
        return shlex.quote(str(Path(script).resolve()))
    return f"{shlex.quote(sys.executable)} -m sgcformat.viewer"


def install(base: Path | None = None) -> list[Path]:
    """Write the launcher, MIME type and icon; returns the files written."""
    base = base or data_home()
    written = []
    for name, target in _targets(base).items():
        text = resources.files("sgcformat.viewer").joinpath("resources", name).read_text()
        if name == DESKTOP_FILE:
            text = text.replace("Exec=sgc-viewer %F", f"Exec={_launcher()} %F")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        written.append(target)
    _refresh_caches(base)
    return written


def uninstall(base: Path | None = None) -> list[Path]:
    """Remove what :func:`install` wrote; returns the files removed."""
    base = base or data_home()
    removed = []
    for target in _targets(base).values():
        if target.exists():
            target.unlink()
            removed.append(target)
    _refresh_caches(base)
    return removed


def _refresh_caches(base: Path) -> None:
    """Rebuild the MIME and desktop databases when the tools exist (they are optional)."""
    for tool, folder in (("update-mime-database", base / "mime"),
                         ("update-desktop-database", base / "applications")):
        if shutil.which(tool) and folder.is_dir():
            subprocess.run([tool, str(folder)], check=False, capture_output=True)
