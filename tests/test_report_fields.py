"""The report's newer record fields (issue 12): the Data section (columns, rows dropped, the task and
why, duplicates against chance), the confusion matrix and per-class errors of a classifier, and a
regression's RMSE, interval, predicted-against-actual and residuals. Each from a real football record
(tests/fixtures/run_football.json: `nnrecipe run football`, its histories thinned) edited by hand; each
field present and absent, and records written before these fields still render."""

import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest
from _report_page import Page

from nnrecipe.doctor.metrics import confusion, duplicate_rows, regression_errors
from nnrecipe.errors import NNRecipeError
from nnrecipe.report import plots, write_report
from nnrecipe.report.html import SECTIONS

FIXTURES = Path(__file__).parent / "fixtures"
EVIL = "<b>bold</b> & co"


@pytest.fixture(scope="module")
def real():
    return json.loads((FIXTURES / "run_football.json").read_text(encoding="utf-8"))


def _render(tmp_path, record):
    path = write_report(tmp_path, record)
    return Page.read(path), path.read_text(encoding="utf-8")


def _section(html, sid):
    part = html[html.index(f'<section id="{sid}">'):]
    return part[:part.index("</section>")]


def _figures(tmp_path):
    return {p.name for p in (tmp_path / "figures").glob("*.png")}


COLUMNS = [
    {"column": "bill_length_mm", "kind": "numeric", "action": "impute median, add missing indicator, standardize",
     "reason": "2 of 240 training values missing", "outputs": ["bill_length_mm", "bill_length_mm_missing"]},
    {"column": "island", "kind": "text", "action": "one-hot", "reason": "3 levels; unseen levels go to 'other'",
     "outputs": 4},
    {"column": "row_id", "kind": "identifier", "action": "drop", "reason": "a distinct value in every row",
     "outputs": 0},
    {"column": EVIL, "kind": "constant", "action": "dropped", "reason": "one value in every row", "outputs": None},
]


# ---- old records -------------------------------------------------------------------------------------
@pytest.mark.parametrize("fixture", ["run_football.json", "run_v1/run.json"])
def test_records_without_the_new_fields_still_render(tmp_path, fixture):
    record = json.loads((FIXTURES / fixture).read_text(encoding="utf-8"))
    page, html = _render(tmp_path, record)
    assert [sid for sid, _ in SECTIONS][:2] == ["summary", "data"]
    assert "could not be read" not in html
    assert page.text("data").startswith("Data Not run: the record has no account of the columns")
    assert "Not run: the record holds no confusion matrix (an older run)." in page.text("test")
    test = record["test"]
    assert page.cards("summary")["Test error"] == f"{test['error']:.1%}"          # still a rate
    assert f"n = {test['n']}" in page.text("summary") and "RMSE" not in page.text("summary")
    assert "confusion.png" not in _figures(tmp_path) and "fit.png" not in _figures(tmp_path)


# ---- the Data section ----------------------------------------------------------------------------------
def _with_data(real, **fields):
    """The record with these data fields, without its experiments (their figures are not looked at here)."""
    record = copy.deepcopy(real)
    record["data"].update(fields)
    record.update(experiments=[], lambda_sweep=[], learning_curve=None)
    return record


def test_data_section_tells_each_column_rows_dropped_and_the_task(tmp_path, real):
    record = _with_data(real, columns=COLUMNS, rows_dropped={"missing target": 3, "missing feature": 0},
                        task_reason="the target holds 2 classes, 0 and 1.")
    page, html = _render(tmp_path, record)
    text = page.text("data")
    assert "Task: binary classification — the target holds 2 classes, 0 and 1." in text      # one full stop
    assert "Rows dropped: 3 (missing target: 3)." in text
    assert "4 columns read: 2 used, 2 dropped (red rows)." in text
    head, *rows = page.rows("data")
    assert head == ["column", "kind", "action", "inputs"]
    figures = [r for r in rows if len(r) == 4]
    assert figures == [["bill_length_mm", "numeric", "impute median, add missing indicator, standardize", "2"],
                       ["island", "text", "one-hot", "4"], ["row_id", "identifier", "drop", "0"],
                       [EVIL, "constant", "dropped", "—"]]
    assert [r[1] for r in rows if len(r) == 2] == [c["reason"] for c in COLUMNS]           # why, below each row
    data = _section(html, "data")
    assert data.count('<tr class="flag lead">') == 2 and "&lt;b&gt;bold&lt;/b&gt; &amp; co" in data
    assert "<b>bold</b>" not in data
    assert 'title="bill_length_mm, bill_length_mm_missing"' in data                         # the inputs' names


@pytest.mark.parametrize("absent", ["columns", "rows_dropped", "task_reason"])
def test_data_section_with_one_field_absent(tmp_path, real, absent):
    fields = {"columns": COLUMNS, "rows_dropped": {}, "task_reason": "the target is whole numbers with 214 values"}
    del fields[absent]
    page, html = _render(tmp_path, _with_data(real, **fields))
    text = page.text("data")
    assert "could not be read" not in html and not text.startswith("Data Not run")
    numbers = f"The data came as numbers ({real['data']['n_features']} columns): every column used as it is"
    assert (numbers in text) == (absent == "columns")
    if absent == "columns":                                  # nor its number of features: nothing to tell
        record = _with_data(real, **fields)
        del record["data"]["n_features"]
        assert "Not run: the record lists no columns." in _render(tmp_path, record)[0].text("data")
    assert ("No rows were dropped." in text) == (absent != "rows_dropped")
    assert ("Task: binary classification — the target is whole numbers with 214 values." in text) == (
        absent != "task_reason")


def test_data_section_counts_columns_beyond_the_table(tmp_path, real):
    columns = [{"column": f"pixel{j}", "kind": "numeric", "action": "standardize", "outputs": 1} for j in range(130)]
    page, _ = _render(tmp_path, _with_data(real, columns=columns))
    assert len(page.rows("data")) == 1 + 100                               # no reason: no prose rows
    assert "130 columns read: 130 used, 0 dropped." in page.text("data")
    assert "… and 30 more columns." in page.text("data")


def test_data_section_says_the_duplicate_check(tmp_path, real):
    rng = np.random.default_rng(0)
    train, dev, test = (rng.integers(0, [3, 2, 4], size=(n, 3)).astype(float) for n in (700, 200, 200))
    duplicates = {"dev": duplicate_rows(train, dev), "test": duplicate_rows(train, test, name="test")}
    page, _ = _render(tmp_path, _with_data(real, duplicates={"dev": 200, "test": 200}, task_reason="2 classes",
                                           duplicate_check=json.loads(json.dumps(duplicates))))
    text = page.text("data")
    assert "Held-out rows that repeat a training row, against chance:" in text
    assert ("200 of 200 dev rows repeat a training row, as expected when the 700 training rows hold only 24 "
            "distinct rows (chance alone gives about 200): not a leak.") in text
    assert "200 of 200 test rows repeat" in text
    # an older record's counts are not messages: nothing said (its warnings say them)
    page, _ = _render(tmp_path, _with_data(real, duplicates={"dev": 3, "test": 0}, task_reason="2 classes"))
    assert "repeat a training row" not in page.text("data")


# ---- classification: the confusion matrix -------------------------------------------------------------
def _with_confusion(real, y_true, y_pred, labels):
    record = copy.deepcopy(real)
    c = confusion(y_true, y_pred, labels)
    record["test"].update(confusion=json.loads(json.dumps(c)), error=c["error"], n=c["n"], errors=c["errors"])
    record["test"].pop("low"), record["test"].pop("high")
    return record


def test_confusion_matrix_and_per_class_errors(tmp_path, real):
    # football's 14 test errors of 200: 6 of 95 rows of class 0, 8 of 105 of class 1
    y_true = np.r_[np.zeros(95, int), np.ones(105, int)]
    y_pred = np.r_[np.ones(6, int), np.zeros(89, int), np.zeros(8, int), np.ones(97, int)]
    record = _with_confusion(real, y_true, y_pred, [0, 1])
    page, html = _render(tmp_path, record)
    assert "confusion.png" in _figures(tmp_path)
    head, *rows = page.rows("test")
    assert head == ["class", "rows", "errors", "error", "95% interval"]
    assert rows == [["0", "95", "6", "6.3%", "2.9%–13.1%"], ["1", "105", "8", "7.6%", "3.9%–14.3%"]]
    text = page.text("test")
    assert "Overall test error 7.0%; balanced error (the mean of the per-class errors) 7.0%." in text
    assert "No class's error stands out from the overall error beyond the noise of its rows." in text
    assert page.cards("test")["Test error"] == page.cards("summary")["Test error"] == "7.0%"
    alt = page.alts("test")[0].split(" | ")
    assert alt == ["confusion matrix of the test set", "Counts (shade: share of the true class)",
                   "Error per class, 95% interval"]
    assert 'class="flag' not in _section(html, "test")
    # written without it, the next report in the folder removes the stale figure
    write_report(tmp_path, real)
    assert "confusion.png" not in _figures(tmp_path)


def test_a_class_far_above_the_overall_error_is_flagged(tmp_path, real):
    """An imbalanced table: 20 rows of a rare class, 12 of them wrong, behind a 1.6% overall error."""
    y_true = np.r_[np.zeros(980, int), np.ones(20, int)]
    y_pred = y_true.copy()
    y_pred[:4], y_pred[980:992] = 1, 0
    page, html = _render(tmp_path, _with_confusion(real, y_true, y_pred, ["common", "rare"]))
    test = _section(html, "test")
    assert test.count('<tr class="flag">') == 1
    flagged = re.search(r'<tr class="flag"><td>([^<]*)</td>', test)[1]
    assert flagged == "rare"
    assert ("Class rare is wrong on 60.0% of its 20 test rows (95% CI 38.7%–78.1%), far above the overall "
            "error: the overall figure hides it.") in page.text("test")
    assert "balanced error (the mean of the per-class errors) 30.2%" in page.text("test")
    assert page.captions("test")[0].endswith("red: a class far above it.")


def test_confusion_figure_shows_the_counts_and_the_flagged_rows():
    matrix = [[976, 4, 0], [12, 8, 0], [10, 0, 290]]
    c = confusion(np.repeat([0, 1, 2], [980, 20, 300]),
                  np.repeat([0, 1, 0, 1, 0, 2], [976, 4, 12, 8, 10, 290]), ["common", "rare", "third"])
    assert c["matrix"] == matrix
    fig = plots.confusion_figure(c["matrix"], c["labels"], c["per_class"], c["error"], flagged=[1])
    grid, bars = fig.axes[0], fig.axes[1]
    assert [t.get_text() for t in grid.texts] == [str(v) for row in matrix for v in row]
    assert [t.get_text() for t in grid.get_yticklabels()] == ["common", "rare", "third"]
    red = [t.get_text() for ax in (grid, bars) for t in ax.get_yticklabels() if t.get_color() == plots.HIGH]
    assert red == ["rare", "rare"]
    assert plots.drawn(fig)["titles"] == ["Counts (shade: share of the true class)", "Error per class, 95% interval"]
    many = plots.confusion_figure(np.eye(25, dtype=int).tolist(), list(range(25)),
                                  [{"label": i, "error": 0.0, "low": 0.0, "high": 0.8} for i in range(25)])
    assert len(many.axes[0].texts) == 0 and many.get_size_inches()[1] == 9.0       # no counts, a taller figure


# ---- regression ---------------------------------------------------------------------------------------
def _regression(real, n=300, predictions=True, interval=True):
    """The football record as a regression run: RMSE everywhere, the test rows' predictions."""
    rng = np.random.default_rng(1)
    actual = rng.normal(150, 70, n)
    predicted = actual + rng.normal(0, 50, n)
    record = copy.deepcopy(real)
    record["data"].update(kind="regression", classes=None)
    for x in record["experiments"]:
        x.update(train_error=40 + x["train_error"] * 100, dev_error=45 + x["dev_error"] * 100)
        x["history"].update(train_error=[40 + v * 100 for v in x["history"]["train_error"]],
                            dev_error=[45 + v * 100 for v in x["history"]["dev_error"]])
    record["final"]["diagnosis"].update(train_error=45.7, dev_error=50.66, baseline_error=30.0, tolerance=5.0,
                                        avoidable_bias=15.7, variance=4.96)
    record.update(baseline_error=30.0, tolerance=5.0, lambda_sweep=[], learning_curve=None)
    errors = regression_errors(actual, predicted, seed=0)
    test = {k: v for k, v in record["test"].items() if k not in ("errors", "low", "high", "interval", "method")}
    test.update(errors, error=errors["rmse"])
    if predictions:
        test.update(actual=actual.tolist(), predicted=predicted.tolist())
    if not interval:
        del test["low"], test["high"]
    record["test"] = test
    return record, errors


def test_regression_shows_rmse_with_its_interval(tmp_path, real):
    record, e = _regression(real)
    page, html = _render(tmp_path, record)
    rmse, low, high = (plots.error_text(e[k], percent=False) for k in ("rmse", "low", "high"))
    mae, r2 = plots.error_text(e["mae"], percent=False), f"{e['r2']:.3f}"
    assert (rmse, low, high, mae, r2) == ("48.6", "44.8", "52.2", "39.1", "0.433")
    summary = page.cards("summary")
    assert summary["Test RMSE"] == rmse and "Test error" not in summary
    assert (summary["Dev RMSE"], summary["Train RMSE"], summary["Baseline"]) == ("50.7", "45.7", "30")
    assert f"95% CI {low}–{high}, n = 300" in page.text("summary")
    cards = page.cards("test")
    assert cards == {"Test RMSE": rmse, "95% interval": f"{low}–{high}", "MAE": mae, "R²": r2}
    assert "percentile bootstrap, 2000 resamples" in page.text("test")
    caption = page.captions("test")[0]
    assert f"RMSE {rmse} (95% CI {low}–{high}, bootstrap), MAE {mae}, R² {r2} on 300 test rows." in caption
    assert page.alts("test")[0].split(" | ") == ["predicted against actual, and the residuals",
                                                 "Predicted against actual", "Residuals"]
    assert "fit.png" in _figures(tmp_path) and "confusion.png" not in _figures(tmp_path)
    assert "%" not in " ".join(summary.values()) + " ".join(cards.values())
    assert "could not be read" not in html and "confusion matrix" not in page.text("test")


def test_regression_without_predictions_or_interval(tmp_path, real):
    record, _ = _regression(real, predictions=False, interval=False)
    page, html = _render(tmp_path, record)
    assert "Not run: the record holds no test predictions to plot." in page.text("test")
    assert "fit.png" not in _figures(tmp_path)
    assert set(page.cards("test")) == {"Test RMSE", "MAE", "R²"}                 # no interval to show
    assert "95% CI" not in page.text("summary") and "could not be read" not in html


def test_regression_draws_at_most_5000_test_rows(tmp_path, real):
    record, _ = _regression(real, n=6000)
    page, _ = _render(tmp_path, record)
    assert "on 6000 test rows (5000 drawn)." in page.captions("test")[0]


def test_regression_figures():
    actual, predicted = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.5, 2.0, 2.0, 5.0])
    fig = plots.regression_figure(actual, predicted)
    fit, spread = fig.axes
    diagonal = next(line for line in fit.lines if line.get_gid() == "diagonal")
    assert np.array_equal(diagonal.get_xdata(), diagonal.get_ydata())
    assert fit.get_xlim() == fit.get_ylim()
    np.testing.assert_allclose(fit.collections[0].get_offsets(), np.column_stack([actual, predicted]))
    np.testing.assert_allclose(spread.collections[0].get_offsets(), np.column_stack([predicted, actual - predicted]))
    bands = sorted(line.get_ydata()[0] for line in spread.lines if line.get_gid() == "rmse")
    rmse = np.sqrt(np.mean((actual - predicted) ** 2))
    assert [line.get_ydata()[0] for line in spread.lines if line.get_gid() == "zero"] == [0.0]
    assert bands == pytest.approx([-rmse, rmse])
    with pytest.raises(NNRecipeError, match="actual and predicted must be the same length; got 4 and 3"):
        plots.regression_figure(actual, predicted[:3])


def test_regression_error_axes_say_rmse():
    history = {"train_error": [60.0, 50.0], "dev_error": [70.0, 55.0]}
    assert plots.error_curves([history], percent=False).axes[0].get_ylabel() == "RMSE"
    assert plots.error_curves([history]).axes[0].get_ylabel() == "error"


def test_a_lowered_baseline_says_from_what_and_by_which_experiment(tmp_path, real):
    record = copy.deepcopy(real)
    record["baseline"] = {"estimate": 0.032, "low": 0.02, "high": 0.036, "method": "experiment 1's dev error",
                          "note": "baseline (estimated): 8.4% ...", "lowered_from": 0.084}
    record["baseline_error"] = 0.032
    page, _ = _render(tmp_path, record)
    text = " ".join(page.text("summary").split())
    assert ("Lowered from 8.4% to 3.2%, experiment 1's dev error: it lies under the estimate beyond dev's noise, "
            "and a reachable error bounds the irreducible one.") in text
    del record["baseline"]["lowered_from"]
    page, _ = _render(tmp_path, record)
    assert "Lowered from" not in page.text("summary")


def test_a_final_note_replaces_the_next_steps_it_contradicts(tmp_path, real):
    """A run that ends on a gap inside the estimated irreducible error says so, capitalized, and does not then
    list the notes' next steps for that gap (bigger network, regularization) as if there were something to gain."""
    record = copy.deepcopy(real)
    record["final"]["diagnosis"].update(case="high variance", next_steps=["more data", "regularization"])
    page, _ = _render(tmp_path, record)
    assert "Next: more data; regularization." in " ".join(page.text("summary").split())
    record["final_note"] = "no avoidable error left that the data can show: dev 3.06% sits within it"
    page, _ = _render(tmp_path, record)
    text = " ".join(page.text("summary").split())
    assert "No avoidable error left that the data can show: dev 3.06% sits within it." in text
    assert "Next:" not in text
