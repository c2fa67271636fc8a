"""The report of a real run says one thing everywhere (issue 11): the panel titles, the λ sweep's ring,
the experiments table, the summary and the test section give the same figures, the record's."""

import json
import re

import pytest
from _report_page import Page

import nnrecipe as nr
from nnrecipe.report import write_report


def pct(value):
    """A rate as the report writes it: one decimal, two below 1%."""
    return f"{value:.{2 if 0 < value < 0.01 else 1}%}"


@pytest.fixture(scope="module", params=["football", "digits"])
def run(request, tmp_path_factory):
    """(record, page) of a whole run of the recipe: football (its own test set) and digits (64 named
    pixels, split off; three λ of its sweep tie on dev, the chosen model has the largest)."""
    t = nr.load_dataset(request.param)
    out = tmp_path_factory.mktemp(request.param)
    nr.Recipe(verbose=0, out=out).fit(t.X, t.y, test=t.test, name=request.param, features=t.features,
                                      classes=t.classes)
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    return record, Page.read(write_report(out, record))


def _chosen(record):
    return next(x for x in record["experiments"] if x["id"] == record["final"]["experiment"])


def _table(page):
    """{id: (train, dev, kept)} of the experiments table (its rows of figures, not the rows of prose)."""
    head, *rows = page.rows("errors")
    assert head == ["#", "knob", "lowest dev / epochs", "train", "dev", "case", "kept"]
    return {int(r[0]): (r[3], r[4], r[6]) for r in rows if len(r) == len(head)}


def test_table_rows_are_the_record(run):
    record, page = run
    table = _table(page)
    assert table == {x["id"]: (pct(x["train_error"]), pct(x["dev_error"]), "✓" if x["kept"] else "—")
                     for x in record["experiments"]}
    assert [i for i, row in table.items() if row[2] == "✓"] == [record["final"]["experiment"]]
    head, *rows = page.rows("errors")
    prose = [r[-1] for r in rows if len(r) != len(head)]         # each experiment's why → what became of it
    assert len(prose) == len(record["experiments"])
    assert all(f"{x['why']} → {x['outcome']}" in p for p, x in zip(prose, record["experiments"]))


def test_each_panel_gives_its_rows_dev_error(run):
    record, page = run
    titles = page.alts("errors")[0].split(" | ")[1:]
    panels = {}
    for title in titles:
        m = re.fullmatch(r"#(\d+) (\S+)( \(final\))?  ·  dev (\S+)", title)
        assert m, title
        panels[int(m[1])] = m[4]
        assert bool(m[3]) == (int(m[1]) == record["final"]["experiment"]), title
    assert panels == {i: dev for i, (_, dev, _) in _table(page).items()}
    assert "lowest dev" in page.captions("errors")[0] and "the one kept" not in page.captions("errors")[0]


def test_summary_and_test_section_agree_with_the_chosen_row(run):
    record, page = run
    chosen, test = _chosen(record), record["test"]
    train, dev, _ = _table(page)[chosen["id"]]
    cards = page.cards("summary")
    assert (cards["Dev error"], cards["Train error"]) == (dev, train) == (pct(chosen["dev_error"]),
                                                                          pct(chosen["train_error"]))
    assert cards["Test error"] == page.cards("test")["Test error"] == pct(test["error"])
    assert cards["Diagnosis"] == chosen["diagnosis"]["case"]
    assert f"experiment {chosen['id']}" in page.text("summary")


def test_the_sweep_rings_the_chosen_models_lambda(run):
    """The ring is the chosen model's own point (version-2 records name each point's experiment), else
    the point of its λ; the old ring, "best λ", took the first of tied λ (0.1 on digits, chosen: λ = 1)."""
    record, page = run
    chosen, sweep = _chosen(record), record["lambda_sweep"]
    assert sweep, "the recipe swept λ on this data"
    lam, dev = f"{chosen['config']['l2']:g}", pct(chosen["dev_error"])
    own = any(p.get("experiment") == chosen["id"] for p in sweep)
    same = any(p["l2"] == chosen["config"]["l2"] for p in sweep)
    rings = [part for part in page.alts("lambda")[0].split(" | ") if part.startswith("ringed")]
    assert rings == ([f"ringed: λ of the chosen model: {lam}"] if own or same else [])
    caption = page.captions("lambda")[0]
    said = (f"Ringed: λ = {lam}, the chosen model (experiment {chosen['id']}), dev error {dev}." if own else
            f"Ringed: λ = {lam}, the λ of the chosen model (experiment {chosen['id']}, dev error {dev})" if same else
            "No λ of the sweep was kept")
    assert said in caption
    lowest = min(p["dev_error"] for p in sweep)
    tied = [f"{p['l2']:g}" for p in sorted(sweep, key=lambda p: p["l2"]) if p["dev_error"] == lowest]
    assert f"Lowest dev error {pct(lowest)} at λ = {', '.join(tied)}" in caption


def test_the_match_table_names_the_columns(run):
    record, page = run
    features = record["data"]["features"]
    names = [r[0] for r in page.rows("match")[1:] if not r[0].endswith("(label)")]
    assert names and set(names) <= set(features)


def test_the_summary_says_how_the_baseline_was_estimated_and_whether_the_fit_is_confirmed(run):
    record, page = run
    text = " ".join(page.text("summary").split())
    baseline = record["baseline"]
    assert record["baseline_error"] == baseline["estimate"] and baseline["method"]
    assert f"Baseline: {' '.join(baseline['note'].split())}" in text and "estimated, 95% CI" in text
    assert ("The good fit is not confirmed" in text) == (record["final"]["confirmed"] is False)
    if record["final"]["diagnosis"]["case"] == "good fit":          # and its words never say more than dev shows
        plain = "the recipe has nothing left to fix."
        assert (plain in text) == (record["final"]["confirmed"] is not False)
    refit = record["final"].get("refit")
    if refit and not record["cv"]:                       # digits decides on dev, then refits on train+dev
        assert (f"Decisions on dev; the chosen configuration was then refitted on all {refit['rows']} rows of "
                f"train+dev ({refit['epochs']} epochs): the test set scores that model.") in text
    assert refit is not None
