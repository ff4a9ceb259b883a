"""User-level desktop integration: a launcher, the ``image/x-sgc`` MIME type, an icon,
a freedesktop thumbnailer, and the viewer as default application for ``.sgc`` only.

Files go under ``$XDG_DATA_HOME`` (default ``~/.local/share``) and the default lands
in ``$XDG_CONFIG_HOME/mimeapps.list``; nothing system-wide. The launcher lists
``image/x-sgc`` alone, so installing never makes the viewer the default for PNG or
JPEG. :func:`uninstall` removes exactly what :func:`install` wrote.
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
THUMBNAILER_FILE = "sgc.thumbnailer"
MIME_TYPE = "image/x-sgc"
DEFAULTS_SECTION = "[Default Applications]"


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def _targets(base: Path) -> dict[str, Path]:
    return {
        DESKTOP_FILE: base / "applications" / DESKTOP_FILE,
        MIME_FILE: base / "mime" / "packages" / MIME_FILE,
        ICON_FILE: base / "icons" / "hicolor" / "scalable" / "apps" / ICON_FILE,
        THUMBNAILER_FILE: base / "thumbnailers" / THUMBNAILER_FILE,
    }


def command(script: str, module: str) -> str:
    """How a desktop file should start ``script``.

    The bare name when it is on ``PATH`` (the desktop finds it as the shell does, and
    an upgrade or a moved virtualenv does not break the launcher); else the script
    beside this interpreter; else ``python -m module`` with this interpreter.
    """
    if shutil.which(script):
        return script
    beside = Path(sys.executable).parent / script
    if beside.is_file() and os.access(beside, os.X_OK):
        return shlex.quote(str(beside))
    return f"{shlex.quote(sys.executable)} -m {module}"


def install(base: Path | None = None, config: Path | None = None) -> list[Path]:
    """Write launcher, MIME type, icon and thumbnailer; make the viewer open ``.sgc``."""
    base, config = base or data_home(), config or config_home()
    written = []
    for name, target in _targets(base).items():
        text = resources.files("sgcformat.viewer").joinpath("resources", name).read_text()
        if name == DESKTOP_FILE:
            text = text.replace("Exec=sgc-viewer ",
                                f"Exec={command('sgc-viewer', 'sgcformat.viewer')} ")
        elif name == THUMBNAILER_FILE:
            thumbnailer = command("sgc-thumbnailer", "sgcformat.viewer.thumbnailer")
            text = text.replace("Exec=sgc-thumbnailer ", f"Exec={thumbnailer} ")
            if thumbnailer != "sgc-thumbnailer":
                text = text.replace("TryExec=sgc-thumbnailer\n", "")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        written.append(target)
    if _set_default(config / "mimeapps.list", add=True):
        written.append(config / "mimeapps.list")
    _refresh_caches(base)
    return written


def uninstall(base: Path | None = None, config: Path | None = None) -> list[Path]:
    """Remove what :func:`install` wrote; returns the files removed (or edited)."""
    base, config = base or data_home(), config or config_home()
    removed = []
    for target in _targets(base).values():
        if target.exists():
            target.unlink()
            removed.append(target)
    if _set_default(config / "mimeapps.list", add=False):
        removed.append(config / "mimeapps.list")
    _refresh_caches(base)
    return removed


def _set_default(path: Path, add: bool) -> bool:
    """Add (or remove) ``image/x-sgc=sgc-viewer.desktop`` in ``mimeapps.list``.

    Edits one line and leaves the rest of the user's file as it was; a default the
    user chose for ``image/x-sgc`` is kept. Returns whether the file changed.
    """
    entry = f"{MIME_TYPE}={DESKTOP_FILE}"
    lines = path.read_text().splitlines() if path.exists() else []
    section, chosen = None, None
    for i, line in enumerate(lines):
        if line.startswith("["):
            section = line.strip()
        elif section == DEFAULTS_SECTION and line.split("=", 1)[0].strip() == MIME_TYPE:
            chosen = i
    if add:
        if chosen is not None:
            return False
        if DEFAULTS_SECTION in (line.strip() for line in lines):
            at = [line.strip() for line in lines].index(DEFAULTS_SECTION) + 1
            lines.insert(at, entry)
        else:
            lines += ([""] if lines else []) + [DEFAULTS_SECTION, entry]
    elif chosen is None or lines[chosen].replace(" ", "") != entry:
        return False
    else:
        del lines[chosen]
        if all(not line.strip() or line.strip() == DEFAULTS_SECTION for line in lines):
            path.unlink()  # nothing but what install() wrote was left
            return True
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return True


def _refresh_caches(base: Path) -> None:
    """Rebuild the MIME and desktop databases when the tools exist (they are optional)."""
    for tool, folder in (("update-mime-database", base / "mime"),
                         ("update-desktop-database", base / "applications")):
        if shutil.which(tool) and folder.is_dir():
            subprocess.run([tool, str(folder)], check=False, capture_output=True)
