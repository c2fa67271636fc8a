"""The README's examples run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _block(marker):
    [code] = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if marker in b]
    return code


def test_a_users_knob_in_a_dozen_lines_runs_in_the_recipe(capsys):
    code = _block("class Wider3")
    knob = code[code.index("class Wider3"):code.index("X, y")].strip().splitlines()
    assert len([line for line in knob if line.strip()]) <= 12
    scope = {}
    exec(compile(code, str(README), "exec"), scope)
    r = scope["r"]
    knobs = [e.knob for e in r.experiments_]
    assert knobs[0] == "start" and set(knobs) <= {"start", "wider3", "l2"} and r.record_["knobs"] == ["wider3", "l2"]
    # the user's knob is turned when bias is high, the L2 grid given (two λ) when variance is
    assert [e.config.l2 for e in r.experiments_ if e.knob == "l2"] in ([], [0.1, 1.0])
    assert all(e.outcome for e in r.experiments_) and "start" in capsys.readouterr().out
    widened = [e for e in r.experiments_ if e.knob == "wider3"]
    for e in widened:
        assert e.why.endswith("three times as wide")
