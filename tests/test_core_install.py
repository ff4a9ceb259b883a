"""A core install (no extras): every command that needs one names it in one line (issue 13 #7, #9).

The real core-only environment is checked by ``scripts/core-install-smoke.sh`` (run by ``.ci/run``);
here the optional packages are hidden from this interpreter (``sys.modules[name] = None`` makes
their import fail as if absent), so the same paths run fast inside the suite.
"""

from __future__ import annotations

import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest

import sgcformat.models
from sgcformat import cli, container
from sgcformat.cli import main

ROOT = Path(__file__).resolve().parents[1]
VECTOR = ROOT / "spec" / "vectors" / "valid" / "coco-512-default.sgc"
MODELS_EXTRA = ("torch", "diffusers", "transformers", "safetensors", "accelerate", "peft",
                "huggingface_hub", "platformdirs")


def hide(monkeypatch, *modules: str) -> None:
    """Make ``import NAME`` (and its submodules) fail with ModuleNotFoundError, as in a core install."""
    for name in list(sys.modules):
        if name.split(".")[0] in modules:
            monkeypatch.delitem(sys.modules, name)
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)
    # modules of ours that already imported them would otherwise keep working
    for name in list(sys.modules):
        if name.startswith(("sgcformat.models.", "sgcformat.viewer.")) and not name.endswith(".cli"):
            monkeypatch.delitem(sys.modules, name)


def one_line_hint(capsys, extra: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert f"pip install 'sgcformat[{extra}]'" in err
    return err


@pytest.mark.parametrize(("argv", "hidden", "extra"), [
    (["decode", str(VECTOR), "-o", "{tmp}/out.png"], MODELS_EXTRA, "models"),
    (["models", "list"], MODELS_EXTRA, "models"),
    (["view", str(VECTOR)], ("PyQt6",), "viewer"),
    (["view"], ("PyQt6",), "viewer"),
])
def test_missing_extra_is_one_line_and_exit_1(argv, hidden, extra, tmp_path, capsys, monkeypatch):
    hide(monkeypatch, *hidden)
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert main(argv) == 1
    err = one_line_hint(capsys, extra)
    assert err.startswith(f"sgc: error: sgc {argv[0]} needs ")
    assert not (tmp_path / "out.png").exists()


def test_eval_without_matplotlib_names_the_eval_extra(tmp_path, scene, capsys, monkeypatch):
    image, labels = scene
    image.save(tmp_path / "a.png")
    labels.save(tmp_path / "a.label.png")
    hide(monkeypatch, "matplotlib", "tqdm")
    assert main(["eval", str(tmp_path), "--labels-dir", str(tmp_path), "--vocab", "coco-stuff-182",
                 "-o", str(tmp_path / "report"), "--codec", "jpeg"]) == 1
    assert "needs matplotlib" in one_line_hint(capsys, "eval")
    assert not (tmp_path / "report").exists()  # failed before any work


def test_preview_decode_still_works_without_the_models_extra(tmp_path, monkeypatch):
    hide(monkeypatch, *MODELS_EXTRA)
    assert main(["decode", "--preview", str(VECTOR), "-o", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p.png").stat().st_size > 0


def test_subcommand_whose_module_fails_to_import_is_still_listed_and_hints(capsys, monkeypatch):
    """A plugin parser that cannot load is a stand-in that answers with its entry point's extra,
    not an 'invalid choice' (the loader used to skip it silently)."""
    broken = EntryPoint("frobnicate", "sgcformat_no_such_module.cli:add_parser [cluster]", "sgcformat.cli")
    real = cli.entry_points
    monkeypatch.setattr(cli, "entry_points", lambda group: [*real(group=group), broken])
    help_text = cli.build_parser().format_help()
    assert "frobnicate" in help_text and "sgcformat[cluster]" in help_text
    assert main(["frobnicate", "build", "--any", "options", "-h"]) == 1
    assert "needs sgcformat_no_such_module" in one_line_hint(capsys, "cluster")


def test_unknown_option_of_a_real_command_is_still_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["info", str(VECTOR), "--no-such-option"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err


def test_encode_without_profile_or_labels_uses_the_default_vocabularys_profile(
        tmp_path, scene, capsys, monkeypatch):
    """`sgc encode photo.jpg -o x.sgc` segments with coco-stuff-182's profile and says so."""
    image, _ = scene
    image.save(tmp_path / "photo.png")
    calls = []

    def segment(rgb, profile, device=None):
        calls.append(profile)
        return np.zeros(np.asarray(rgb).shape[:2], dtype=np.int32)

    monkeypatch.setattr(sgcformat.models, "segment", segment)
    out = tmp_path / "x.sgc"
    assert main(["encode", str(tmp_path / "photo.png"), "-o", str(out)]) == 0
    assert calls == ["ldm-semantic-512"]
    sgc = container.read(out)
    assert (sgc.profile, sgc.vocab) == ("ldm-semantic-512", "coco-stuff-182")
    assert "profile ldm-semantic-512 (the default" in capsys.readouterr().out


def test_encode_without_profile_in_a_core_install_hints_models(tmp_path, scene, capsys, monkeypatch):
    image, _ = scene
    image.save(tmp_path / "photo.png")
    hide(monkeypatch, *MODELS_EXTRA)
    assert main(["encode", str(tmp_path / "photo.png"), "-o", str(tmp_path / "x.sgc")]) == 1
    one_line_hint(capsys, "models")
    assert not (tmp_path / "x.sgc").exists()
