"""The main job, as a new user would run it (`make demo`): encode the corpus, show what SGC does.

For every corpus photo that has a ground-truth label map: encode it with `sgc encode --labels`,
write the `.sgc` file and its weight-free preview under `demo-output/`, and print the size table.
The generative decode needs model weights (`sgc models list` tells what is installed); with them,
`sgc decode demo-output/NAME.sgc -o NAME.png` paints the realistic picture.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from _common import CORPUS, ROOT, corpus_entries, markdown_table

import sgcformat
from sgcformat.container import write
from sgcformat.preview_decoder import render_preview


def main() -> None:
    out = ROOT / "demo-output"
    out.mkdir(exist_ok=True)
    rows = []
    for e in corpus_entries():
        sgc = sgcformat.encode(CORPUS / e["image"], labels=CORPUS / e["label"], vocab=e["vocab"])
        data = sgc.to_bytes()
        name = Path(e["image"]).stem
        write(out / f"{name}.sgc", data)
        render_preview(sgc).save(out / f"{name}.preview.png")
        original = (CORPUS / e["image"]).stat().st_size
        rows.append([name[:40], e["vocab"], f"{sgc.width}x{sgc.height}", len(data),
                     8 * len(data) / (sgc.width * sgc.height), original // len(data)])
    print(markdown_table(["image", "vocab", "size", "bytes", "bpp", "× smaller than source"], rows))
    print(f"\n{len(rows)} files, mean {statistics.mean(r[3] for r in rows):.1f} bytes; "
          f"files and previews in {out}")


if __name__ == "__main__":
    main()
