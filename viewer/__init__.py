"""PyQt6 viewer for .sgc collections (``sgc-viewer``, ``sgc view``).

Modules: :mod:`.window` (main window), :mod:`.thumbnails` (browser model and grid),
:mod:`.worker` (the one decode thread), :mod:`.imageview` (zoom/pan/compare),
:mod:`.panels` (metadata, legend, seed strip), :mod:`.imaging` (Pillow/QImage glue),
:mod:`.desktop` (``--install-desktop``). Importing this package loads nothing heavy.
"""
