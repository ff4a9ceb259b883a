"""Archives: whole photo trees to ``.sgc`` and back, resumable, batched, on Ray when asked.

Above the codec and the models (they never import this package). :func:`encode_tree` and
:func:`decode_tree` walk a tree and keep ``manifest.sqlite`` in the destination;
:func:`iter_encode` is the same work for callers that bring their own file lists.
See docs/archive.md.
"""

from __future__ import annotations

from .encode import encode_tree, iter_encode
from .items import Task
from .manifest import Manifest, Row
from .pipeline import ArchiveStopped
from .restore import decode_tree
from .summary import Summary

__all__ = ["ArchiveStopped", "Manifest", "Row", "Summary", "Task", "decode_tree", "encode_tree",
           "iter_encode"]
