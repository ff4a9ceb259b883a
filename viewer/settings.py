"""What the viewer remembers between runs (``QSettings``): recent items, last folder,
window geometry and dock layout, thumbnail size, sort order."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QByteArray, QSettings

MAX_RECENT = 10
DEFAULT_SLIDESHOW_MS = 4000


class ViewerSettings:
    """Typed access to the ``QSettings`` file (a scratch one in tests)."""

    def __init__(self, settings: QSettings | None = None):
        self.qsettings = settings or QSettings("sgcformat", "sgc-viewer")

    def recent(self) -> list[str]:
        value = self.qsettings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def add_recent(self, path: str | Path) -> None:
        entry = str(Path(path).resolve())
        self.qsettings.setValue("recent", [entry, *(p for p in self.recent() if p != entry)]
                                [:MAX_RECENT])

    def last_folder(self) -> Path | None:
        value = self.qsettings.value("last_folder", "")
        return Path(value) if value and Path(value).is_dir() else None

    def set_last_folder(self, folder: Path) -> None:
        self.qsettings.setValue("last_folder", str(Path(folder).resolve()))

    def _bytes(self, key: str) -> QByteArray | None:
        value = self.qsettings.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def geometry(self) -> QByteArray | None:
        return self._bytes("geometry")

    def window_state(self) -> QByteArray | None:
        """Dock and toolbar layout (``QMainWindow.saveState``)."""
        return self._bytes("window_state")

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qsettings.setValue("geometry", geometry)
        self.qsettings.setValue("window_state", state)

    def thumbnail_size(self, default: int) -> int:
        return int(self.qsettings.value("thumbnail_size", default))

    def set_thumbnail_size(self, size: int) -> None:
        self.qsettings.setValue("thumbnail_size", int(size))

    def sort(self) -> tuple[str, bool]:
        return (str(self.qsettings.value("sort", "name")),
                self.qsettings.value("sort_descending", "false") in (True, "true"))

    def set_sort(self, key: str, descending: bool) -> None:
        self.qsettings.setValue("sort", key)
        self.qsettings.setValue("sort_descending", descending)

    def slideshow_ms(self) -> int:
        return int(self.qsettings.value("slideshow_ms", DEFAULT_SLIDESHOW_MS))

    def sync(self) -> None:
        self.qsettings.sync()
