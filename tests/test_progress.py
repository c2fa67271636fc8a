"""The progress bar ends with the last epoch's figures, and a run that stops early says why instead of
leaving a part-filled bar (which looks like a crash)."""

import io
import re
import sys

import numpy as np
import pytest
from rich.console import Console

import nnrecipe as nr
from nnrecipe.datasets import football

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _lines(text):
    """What a terminal would keep: ANSI codes dropped, each line as its last carriage return left it."""
    out = []
    for line in ANSI.sub("", text).split("\n"):
        line = line.split("\r")[-1].rstrip()
        if line:
            out.append(line)
    return out


def _terminal():
    buffer = io.StringIO()
    return buffer, Console(file=buffer, force_terminal=True, width=100)


def test_a_plateau_ends_the_bar_with_the_last_figures_and_the_reason():
    X, y, Xd, yd = football()
    buffer, console = _terminal()
    net = nr.mlp([2, 8, 1], seed=0)
    # refresh_seconds=60: throttled, the bar would keep the first epoch's figures to the end
    hist = nr.fit(net, X, y, dev=(Xd, yd), epochs=5000, lr=0.01, verbose=0,
                  callbacks=[nr.training.callbacks.plateau_stop(), nr.Progress(refresh_seconds=60, console=console)])
    assert len(hist) < 5000 and "plateau" in hist.stop_reason
    lines = _lines(buffer.getvalue())
    last, bar = lines[-1], lines[-2]
    final = f"cost {hist.cost[-1]:.4f} · dev error {hist.dev_error[-1]:.2%}"
    first = f"cost {hist.cost[0]:.4f}"
    assert first != f"cost {hist.cost[-1]:.4f}"
    assert last == f"{final} · {len(hist)} of 5000 epochs · {hist.stop_reason}", last
    assert "plateau" in last and first not in last
    assert bar.startswith(final) and f"{len(hist)}/{len(hist)}" in bar and first not in bar, bar
    assert f"/{5000}" not in bar                                  # a full bar, not 327/5000


def test_a_run_to_its_limit_ends_with_its_last_figures_and_no_reason():
    X, y, Xd, yd = football()
    buffer, console = _terminal()
    hist = nr.fit(nr.mlp([2, 8, 1], seed=0), X, y, dev=(Xd, yd), epochs=30, lr=0.01, verbose=0,
                  callbacks=[nr.Progress(refresh_seconds=60, console=console)])
    assert hist.stop_reason is None
    bar = _lines(buffer.getvalue())[-1]
    assert bar.startswith(f"cost {hist.cost[-1]:.4f} · dev error {hist.dev_error[-1]:.2%}") and "30/30" in bar, bar


def test_a_divergence_ends_the_bar_with_the_reason():
    X, y, _, _ = football()
    buffer, console = _terminal()
    with pytest.warns(nr.DivergenceWarning), np.errstate(all="ignore"):
        hist = nr.fit(nr.mlp([2, 8, 1], seed=0), X * 1e3, y, epochs=200, optimizer="gd", lr=1e3, verbose=0,
                      callbacks=[nr.Progress(console=console)])
    assert len(hist) < 200 and hist.stop_reason
    last = _lines(buffer.getvalue())[-1]
    assert last == f"cost {hist.cost[-1]:.4f} · {len(hist)} of 200 epochs · {hist.stop_reason}", last


def test_a_console_that_is_not_a_terminal_gets_nothing():
    buffer = io.StringIO()
    X, y, _, _ = football()
    nr.fit(nr.mlp([2, 4, 1], seed=0), X, y, epochs=5, verbose=0,
           callbacks=[nr.Progress(console=Console(file=buffer, force_terminal=False))])
    assert buffer.getvalue() == ""


def test_the_default_bar_on_a_terminal_stderr_says_why_it_stopped(capsys, monkeypatch):
    X, y, Xd, yd = football()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    stop = nr.EarlyStopping(monitor="dev_cost", patience=3)
    hist = nr.fit(nr.mlp([2, 20, 3, 1], seed=0), X, y, dev=(Xd, yd), epochs=3000, lr=0.3, optimizer="gd",
                  callbacks=[stop], verbose=1)
    shown = capsys.readouterr()
    assert len(hist) < 3000 and shown.out == ""
    assert f"{len(hist)} of 3000 epochs · early stopping: dev_cost did not improve" in shown.err, shown.err
