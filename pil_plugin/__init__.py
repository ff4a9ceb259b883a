"""Pillow support for ``.sgc`` files: ``import sgcformat.pil`` registers the format.

Then ``Image.open("photo.sgc")`` identifies the file without decoding it, ``load()``
runs the generative decoder, ``draft()``/``thumbnail()`` use the weight-free preview,
and ``im.save("photo.sgc")`` encodes. See ``docs/pillow.md``.
"""

from .SgcImagePlugin import (
    DEFAULT_SAVE_PROFILE,
    IGNORED_SAVE_OPTIONS,
    N_FRAMES,
    SgcImageFile,
    register_sgc_opener,
)

__all__ = ["DEFAULT_SAVE_PROFILE", "IGNORED_SAVE_OPTIONS", "N_FRAMES", "SgcImageFile", "register_sgc_opener"]
