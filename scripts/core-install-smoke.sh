#!/usr/bin/env bash
# Core-install smoke test: `pip install sgcformat` without extras (no torch, PyQt6, matplotlib)
# must answer every command that needs an extra with ONE stderr line naming that extra and exit 1,
# never a traceback, while the core commands (info, preview decode, encode with labels) still work.
# Runs in its own throw-away virtual environment; about 30 s (pip's wheel cache makes reruns faster).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sgc-core-smoke.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

"$PYTHON" -m venv "$WORK/venv"
PIP=("$WORK/venv/bin/python" -m pip -q --disable-pip-version-check)
"${PIP[@]}" install numpy pillow construct
# A regular (not editable) install from a copy: the source tree gets no build files.
"${PIP[@]}" install --no-deps "$ROOT"
SGC="$WORK/venv/bin/sgc"
cd "$WORK"

if "$WORK/venv/bin/python" -c "import torch" 2>/dev/null; then
    echo "core-install smoke: torch is importable in the core venv; the test would prove nothing" >&2
    exit 1
fi

failures=0
# expect_hint EXTRA ARGS...: exit status 1 and exactly one stderr line that names the extra.
expect_hint() {
    local extra="$1"; shift
    local rc=0
    "$SGC" "$@" >out.txt 2>err.txt || rc=$?
    local lines
    lines=$(wc -l <err.txt)
    if [[ $rc -ne 1 || $lines -ne 1 ]] || ! grep -qF "pip install 'sgcformat[$extra]'" err.txt; then
        echo "FAIL: sgc $* -> exit $rc, $lines stderr line(s):" >&2
        sed 's/^/    /' err.txt >&2
        failures=$((failures + 1))
    else
        echo "ok: sgc $* -> $(cat err.txt)"
    fi
}
# expect_ok ARGS...: the command works in the core install.
expect_ok() {
    if ! "$SGC" "$@" >out.txt 2>err.txt; then
        echo "FAIL: sgc $* failed in the core install:" >&2
        sed 's/^/    /' err.txt >&2
        failures=$((failures + 1))
    else
        echo "ok: sgc $* (works)"
    fi
}

VECTOR="$ROOT/spec/vectors/valid/coco-512-default.sgc"
"$WORK/venv/bin/python" - <<'EOF'
import numpy as np
from PIL import Image
rng = np.random.default_rng(0)
Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save("photo.png")
Image.fromarray(np.where(np.arange(64)[None, :] < 32, 0, 156).repeat(48, 0).astype(np.uint8)).save(
    "labels.png")
import os
os.makedirs("photos", exist_ok=True)
Image.open("photo.png").save("photos/a.png")
Image.open("labels.png").save("photos/a.label.png")
EOF

expect_ok info "$VECTOR"
expect_ok decode --preview "$VECTOR" -o preview.png
expect_ok encode photo.png --labels labels.png --vocab coco-stuff-182 -o labelled.sgc
expect_hint models decode "$VECTOR" -o out.png
CITY="$ROOT/spec/vectors/valid/cityscapes-budget-128.sgc"  # a preview file: decodes through a bridge
expect_ok info "$CITY"
expect_hint models decode "$CITY" --profile sd15-controlnet-seg -o out.png
expect_hint models encode photo.png -o x.sgc
expect_hint models models list
expect_hint viewer view
expect_hint viewer view "$VECTOR"
expect_hint eval eval photos --labels-dir photos --vocab coco-stuff-182 -o report
# Subcommands registered later (e.g. `archive`): `--help` either works or is the one-line hint.
for command in $("$SGC" --help | sed -n 's/^    \([a-z][a-z-]*\) .*/\1/p'); do
    case "$command" in encode|decode|info|models|view|eval) continue ;; esac
    if "$SGC" "$command" --help >out.txt 2>err.txt; then
        echo "ok: sgc $command --help (works)"
    else
        extra=$(sed -n "s/^$command = .*\[\([a-z]*\)\]\"$/\1/p" "$ROOT/pyproject.toml")
        expect_hint "${extra:-$command}" "$command" --help
    fi
done

if [[ $failures -ne 0 ]]; then
    echo "core-install smoke: $failures failure(s)" >&2
    exit 1
fi
echo "core-install smoke: all commands answer with one line"
