"""``python -m sgcformat.viewer``: same as ``sgc-viewer``."""

from .app import main

raise SystemExit(main())
