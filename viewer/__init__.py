"""PyQt6 viewer for .sgc collections (``sgc-viewer``, ``sgc view``, ``sgc-thumbnailer``).

Modules: :mod:`.window` (the file on screen), :mod:`.actions` (menus, shortcuts,
context menus, shortcut sheet), :mod:`.browser` (grid page, folder watcher),
:mod:`.thumbnails` (the browser's model), :mod:`.sampling` (the decode queue),
:mod:`.worker` (the one decode thread), :mod:`.imageview` (zoom/pan/compare),
:mod:`.panels` (metadata, legend, seed box and strip), :mod:`.filecommands` and
:mod:`.fileops` (clipboard, trash, rename), :mod:`.settings` (``QSettings``),
:mod:`.imaging` (Pillow/QImage glue), :mod:`.desktop` (``--install-desktop``),
:mod:`.thumbnailer` (freedesktop thumbnailer). Importing this package loads nothing heavy.
"""
