"""The benchmarks' report format: what ``make bench`` prints and collects."""

from __future__ import annotations

import json

import pytest

from bench import report
from bench.__main__ import BENCHMARKS, _arguments


def test_figure_prints_a_line_and_a_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert report.figure("demo.wall_s", 4.5, "s", at_most=6.0, note="demo") is True
    human, machine = capsys.readouterr().out.splitlines()
    assert human.startswith("PASS  demo.wall_s")
    assert "target ≤ 6 s" in human
    data = json.loads(machine)
    assert data["figure"] == "demo.wall_s"
    assert data["value"] == 4.5
    assert data["unit"] == "s"
    assert data["target"] == 6.0
    assert data["op"] == "<="
    assert data["pass"] is True
    assert len(data["load"]) == 3
    assert report.parse_line(machine) == report.figures()[-1]


@pytest.mark.parametrize(
    ("kwargs", "value", "passed"),
    [
        ({"at_most": 2}, 2, True),
        ({"at_most": 2}, 2.01, False),
        ({"below": 0.2}, 0.2, False),
        ({"at_least": 2000}, 1999, False),
        ({}, 7, None),
    ],
)
def test_targets(kwargs: dict, value: float, passed: bool | None) -> None:
    report.figure("demo.x", value, "x", **kwargs)
    assert report.figures()[-1].passed is passed


def test_one_target_at_most() -> None:
    with pytest.raises(ValueError, match="one target"):
        report.figure("demo.x", 1, "x", at_most=1, at_least=0)


def test_other_lines_are_not_figures() -> None:
    assert report.parse_line("full sync 4 s") is None
    assert report.parse_line('{"figure": broken') is None


def test_command_line() -> None:
    assert _arguments([]) == ([], [], False, None)
    assert _arguments(["sync"]) == (["sync"], [], False, None)
    assert _arguments(["sync", "--orders", "2000"]) == (["sync"], ["--orders", "2000"], False, None)
    names, options, show_list, path = _arguments(["--json", "out.json", "sync", "sla"])
    assert (names, options, str(path)) == (["sync", "sla"], [], "out.json")
    assert set(BENCHMARKS) >= {"sync", "sla", "inbox"}
    with pytest.raises(SystemExit):
        _arguments(["nonsense"])
    with pytest.raises(SystemExit):
        _arguments(["sync", "sla", "--orders", "5"])
