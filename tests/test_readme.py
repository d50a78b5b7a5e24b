"""The README matches the tool: every command it shows exists with the flags it uses, and the
commands a lab runs first run from a fresh clone on the real data."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from spermlab.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def _commands() -> list[list[str]]:
    """Every ``spermlab VERB ...`` the README shows, in code blocks or inline code."""
    text = README.read_text(encoding="utf-8")
    inline = re.findall(r"`(?:\.venv/bin/)?spermlab ([a-z][^`]*)`", text)
    code = "\n".join(re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S))
    blocks = re.findall(r"^(?:\$ )?(?:\.venv/bin/)?spermlab ([a-z][^#\n]*)", code, flags=re.M)
    found = []
    for line in inline + blocks:
        line = line.replace("...", "").strip()
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        found.append(words)
    return found


def _help(words: list[str], capsys) -> str:
    """The --help text of the (sub)command the words start with."""
    path = []
    for w in words:
        if w.startswith("-") or "/" in w or "." in w:
            break
        path.append(w)
        capsys.readouterr()
        if main([*path, "--help"]) != 0:
            path.pop()
            break
    capsys.readouterr()
    assert path, f"README shows an unknown verb: spermlab {' '.join(words)}"
    assert main([*path, "--help"]) == 0
    return capsys.readouterr().out


def test_every_readme_command_exists_with_its_flags(capsys):
    commands = _commands()
    assert len(commands) >= 10
    for words in commands:
        if words[0] in {"into", "demo", "or"} and len(words) == 1:
            continue
        text = _help(words, capsys)
        for flag in (w.split("=")[0] for w in words if w.startswith("--")):
            if flag == "--help":
                continue
            assert flag in text, f"README uses {flag} with 'spermlab {' '.join(words)}', not in --help"


def test_the_first_readme_commands_run_on_the_real_data(data_dir, tmp_path, capsys):
    # "Analysing your own video": the VISEM-Tracking folder line, on 60 of its frames
    src = tmp_path / "11" / "images"
    src.mkdir(parents=True)
    for i in range(60):
        (src / f"11_frame_{i}.jpg").symlink_to(data_dir / "visem_tracking/11/images" / f"11_frame_{i}.jpg")
    out = tmp_path / "r11"
    assert main(["analyze", str(src.parent), "--preset", "visem", "--out", str(out), "--report", "-q"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["quality"]["level"] in {"ok", "caution", "fail"} and (out / "report.html").is_file()
    kin = (out / "kinematics.csv").read_text().splitlines()[0].split(",")
    assert "flagellum" in kin and "grade" in kin  # the columns the README lists
    assert "cls" in (out / "detections.csv").read_text().splitlines()[0].split(",")
    capsys.readouterr()
    assert main(["evaluate", "detection", "--pred", str(out), "--gt", str(data_dir / "visem_tracking/11"),
                 "--json", "-q"]) == 0  # fmt: skip
    res = json.loads(capsys.readouterr().out)
    assert res["overall"]["f1"] > 0.7


@pytest.mark.parametrize("verb", ["analyze", "detect", "track", "measure", "grade", "convert", "report",
                                  "annotate", "simulate", "demo", "doctor"])
def test_every_verb_the_readme_lists_has_an_example_and_quiet(verb, capsys):
    assert main([verb, "--help"]) == 0
    text = capsys.readouterr().out
    assert "Example" in text and "--quiet" in text
