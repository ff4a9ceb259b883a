"""The main job, as a new user meets it (`make demo`): turn a photo archive into .sgc, say what it saved.

Converts every labelled photo of `../shared/corpus/seg` with `sgcformat.archive.encode_tree`
(one run per dataset folder, since each has its own vocabulary; label maps sit beside the
photos as `<stem>.label.png`) into `demo-output/archive/`, restores the tree as weight-free
previews into `demo-output/restored/`, and prints the archive summary. The same as
`sgc archive encode SRC -o DEST --labels-dir SRC --labels-pattern '{stem}.label.png' --vocab V`
and `sgc archive decode DEST -o OUT --preview`. Re-running resumes (nothing is redone).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from _common import CORPUS, ROOT

from sgcformat.archive import Summary, decode_tree, encode_tree


def vocab_of_folders() -> dict[str, str]:
    """Corpus folder → the vocabulary of its label maps (from the corpus manifest)."""
    entries = json.loads((CORPUS / "manifest.json").read_text())
    return {str(Path(e["image"]).parent): e["vocab"] for e in entries if e.get("label")}


def main() -> int:
    out = ROOT / "demo-output"
    if "--fresh" in sys.argv:
        shutil.rmtree(out, ignore_errors=True)
    total = Summary("encode")
    restored = 0
    for folder, vocab in sorted(vocab_of_folders().items()):
        src = CORPUS / folder
        dest = out / "archive" / folder
        s = encode_tree(src, dest, labels_dir=src, labels_pattern="{stem}.label.png", vocab=vocab,
                        workers=1)
        for name in ("files", "done", "already_done", "failed", "skipped", "source_bytes", "sgc_bytes",
                     "seconds"):
            setattr(total, name, getattr(total, name) + getattr(s, name))
        total.failures += s.failures
        restored += decode_tree(dest, out / "restored" / folder, preview=True).done
    print(total.text())
    print(f"  restored {restored} previews in {out / 'restored'}; .sgc files in {out / 'archive'}")
    return 3 if total.failed else 0


if __name__ == "__main__":
    sys.exit(main())
