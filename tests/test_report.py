"""The run report: report.html is self-contained, escapes the record, survives missing parts, and
renders in a real browser (headless Chromium, when installed)."""

import re
import shutil
import subprocess
import tempfile
import time

import numpy as np
import pytest
from _report_page import Page
from matplotlib.figure import Figure
from PIL import Image

import nnrecipe as nr
from nnrecipe.doctor.metrics import confusion
from nnrecipe.report import plots, write_report
from nnrecipe.report.html import SECTIONS

SECTION_IDS = [sid for sid, _ in SECTIONS]
EVIL = "<script>alert('x')</script> & more"


def _history(epochs, train_end, dev_end, l2, rng):
    """A plausible training run: J decays towards a floor; errors decay towards their ends, with noise."""
    t = np.arange(epochs)
    decay = np.exp(-t / (epochs / 5))
    penalty = l2 * (0.05 + 0.3 * (1 - decay))               # weights grow, so does (λ/2m)·Σ‖W‖²
    cost = 0.1 + 0.6 * decay + penalty + rng.normal(0, 0.005, epochs).clip(-0.05, 0.05)
    train = (train_end + 0.4 * decay + rng.normal(0, 0.004, epochs)).clip(0, 1)
    dev = (dev_end + 0.4 * decay + rng.normal(0, 0.008, epochs)).clip(0, 1)
    return {"cost": cost.tolist(), "penalty": penalty.tolist(), "train_error": train.tolist(),
            "dev_error": dev.tolist()}


def _diagnosis(train, dev, case, steps=()):
    return {"train_error": train, "dev_error": dev, "baseline_error": 0.0, "tolerance": 0.02,
            "avoidable_bias": train, "variance": dev - train, "case": case, "next_steps": list(steps), "epoch": 40}


def make_record():
    rng = np.random.default_rng(0)
    specs = [  # knob, why, l2, keep, train, dev, case
        ("start", "the recipe's first network for 2 features: [20, 3] ReLU, Adam", 0.0, 1.0, 0.02, 0.09,
         "high variance"),
        ("l2", f"variance 7.0% > 2%: regularize with L2 {EVIL}", 0.7, 1.0, 0.05, 0.065, "good fit"),
        ("dropout", "compare dropout at keep_prob 0.86", 0.0, 0.86, 0.06, 0.075, "good fit"),
    ]
    experiments = []
    for i, (knob, why, l2, keep, train, dev, case) in enumerate(specs, 1):
        config = {"hidden": [20, 3], "activation": "relu", "l2": l2, "keep_prob": keep, "optimizer": "adam",
                  "lr": 0.01, "epochs": 50, "batch_size": None, "augment": None}
        experiments.append({
            "id": i, "knob": knob, "why": why, "config": config, "history": _history(50, train, dev, l2, rng),
            "epochs": 50, "best_epoch": 41, "train_error": train, "dev_error": dev,
            "diagnosis": _diagnosis(train, dev, case, ["more data", "regularization"] if i == 1 else ()),
            "gradient_norms": {f"W{k}": (np.exp(-np.arange(10) / 4) * 10.0 ** (1 - k)).tolist() for k in (1, 2, 3)},
            "health": [{"rule": "vanishing", "layer": "W1", "message": "‖dW1‖ fell below 1e-5 of ‖W1‖",
                        "repair": "He initialization", "epoch": 7}] if i == 1 else [],
            "model": f"models/exp{i:02d}.npz", "kept": i == 2})
    return {
        "format": "nnrecipe-run", "version": 1, "created": "2026-11-25T12:00:00+00:00",
        "data": {"name": "football", "n": 411, "n_features": 2, "features": ["x0", "x1"], "classes": [0, 1],
                 "kind": "binary", "images": False,
                 "columns": [{"column": f"x{j}", "kind": "numeric", "action": "standardize",
                              "reason": "a number in every row", "outputs": 1} for j in (0, 1)],
                 "rows_dropped": {}, "task_reason": "the target holds 2 classes, 0 and 1"},
        "split": {"train": 168, "dev": 43, "test": 200, "reason": "the course's 200 test rows; 80/20 of the rest",
                  "dev_interval": 0.09, "test_interval": 0.04},
        "match": {"same": True, "verdict": "same: no test of 3 rejects at alpha = 0.05 (Holm)",
                  "features": [{"name": "x0", "test": "ks", "statistic": 0.12, "p_value": 0.61, "p_adjusted": 1.0},
                               {"name": "x1", "test": "ks", "statistic": 0.09, "p_value": 0.88, "p_adjusted": 1.0}],
                  "label": {"name": "y", "test": "chi2", "statistic": 0.3, "p_value": 0.58, "p_adjusted": 1.0},
                  "auc": 0.52, "auc_p_value": 0.4, "alpha": 0.05, "n_a": 43, "n_b": 200},
        "baseline_error": 0.0, "tolerance": 0.02, "budget": 3000, "seed": 0,
        "experiments": experiments,
        "lambda_sweep": [{"l2": lam, "train_error": 0.02 + 0.05 * lam, "dev_error": 0.09 - 0.04 * lam + 0.03 * lam ** 2}
                         for lam in (0.0, 0.01, 0.03, 0.1, 0.3, 0.7, 1.0)],
        "learning_curve": {"sizes": [20, 40, 80, 168], "train_error": [0.0, 0.01, 0.03, 0.05],
                           "dev_error": [0.2, 0.12, 0.08, 0.065], "verdict": "more data would help: dev still falls"},
        "decisions": ["experiment 1 (start): high variance → L2", f"experiment 2 (l2): good fit {EVIL}",
                      "experiment 3 (dropout): worse dev error than experiment 2; kept experiment 2"],
        "final": {"experiment": 2, "model": "model.npz", "diagnosis": _diagnosis(0.05, 0.065, "good fit")},
        "test": {"error": 0.065, "n": 200, "interval": 0.034, "opened_at": "2026-11-25T12:03:00+00:00",
                 "reason": "final evaluation",      # 13 wrong of 200: 5 of the 110 rows of class 0, 8 of the 90 of 1
                 "confusion": confusion([0] * 110 + [1] * 90, [1] * 5 + [0] * 105 + [0] * 8 + [1] * 82, [0, 1])},
    }


def _text(page):
    """The page without its embedded images (base64 can spell anything)."""
    return re.sub(r"data:image/png;base64,[^\"]*", "", page)


@pytest.fixture(scope="module")
def moons_net():
    t = nr.load_dataset("moons")
    net = nr.mlp([2, 8, 1], seed=0)
    hist = nr.fit(net, t.X, t.y, dev=(t.X[:100], t.y[:100]), epochs=150, lr=0.05, verbose=0)
    return net, t.X, t.y, hist


@pytest.fixture(scope="module")
def report(tmp_path_factory, moons_net):
    net, X, y, _ = moons_net
    out = tmp_path_factory.mktemp("run")
    start = time.perf_counter()
    path = write_report(out, make_record(), net=net, X=X, y=y)
    seconds = time.perf_counter() - start
    return path, path.read_text(encoding="utf-8"), seconds      # page with images; _text(page) without


def test_report_and_figures_written(report):
    path, page, seconds = report
    assert path.name == "report.html" and path.is_file()
    names = {p.name for p in (path.parent / "figures").glob("*.png")}
    assert names == {"cost.png", "errors.png", "bias_variance.png", "learning_curve.png", "lambda.png",
                     "boundary.png", "gradients.png", "confusion.png"}
    for name in names:
        with Image.open(path.parent / "figures" / name) as img:
            assert img.format == "PNG" and 600 <= img.width <= 900
        assert (path.parent / "figures" / name).stat().st_size < 120_000      # kept small
    assert page.count('src="data:image/png;base64,') == len(names)
    assert seconds < 15


def test_every_section_present_in_order(report):
    _, page, _ = report
    at = [page.index(f'<section id="{sid}">') for sid in SECTION_IDS]
    assert at == sorted(at)
    assert page.count("<h2>") == len(SECTION_IDS)
    assert "could not be read" not in page and "Not run" not in page


def test_self_contained(report):
    _, page, _ = report
    assert 'src="http' not in page and "<link" not in page and "<script" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", page)
    assert "@import" not in page and "url(" not in page


def test_summary_numbers(report):
    _, page, _ = report
    summary = page[page.index('<section id="summary">'):page.index('<section id="cost">')]
    # 95% Wilson intervals: 13 of 200 test errors, 3 of 43 dev errors (the record gives no low/high: computed)
    assert "6.5%" in summary and "95% CI 3.8%–10.8%, n = 200" in summary and "95% CI 2.4%–18.6%, n = 43" in summary
    assert "good fit" in summary and "football" in summary and "0.0%" in summary and "±" not in summary


def _section(page, sid):
    section = page[page.index(f'<section id="{sid}">'):]
    return section[:section.index("</section>")]


def test_no_errors_on_the_test_set_still_give_an_interval(tmp_path):
    record = make_record()
    record["test"].update(error=0.0, n=60, interval=0.0)          # an older record: the normal interval, ± 0
    page = _text(write_report(tmp_path, record).read_text(encoding="utf-8"))
    assert "95% CI 0.0%–6.0%, n = 60" in _section(page, "summary") and "0.0%–6.0%" in _section(page, "test")
    assert "± 0.0%" not in page


def test_reopened_test_set_and_warnings_are_said(tmp_path):
    record = make_record()
    record["test"]["openings"] = [{"at": "2026-11-25T12:03:00+00:00", "reason": "final evaluation"},
                                  {"at": "2026-11-25T13:00:00+00:00", "reason": "final evaluation"}]
    record["warnings"] = ["the test set of the run in runs/fb has now been opened 2 times",
                          "3 dev and 1 test rows duplicate training rows: dev/test errors are optimistic"]
    page = _text(write_report(tmp_path, record).read_text(encoding="utf-8"))
    assert _section(page, "summary").count("<b>Warning:</b>") == 2
    test = _section(page, "test")
    assert "Opened 2 times" in test and "13:00:00" in test and "3 dev and 1 test rows duplicate" in test
    assert "unbiased estimate" not in test


def test_record_strings_escaped(report):
    _, page, _ = report
    assert "<script>alert" not in page
    assert page.count("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more") == 2    # a why, a decision


@pytest.mark.parametrize("strip", ["parts", "bare"])
def test_missing_parts_say_not_run(tmp_path, strip):
    record = make_record()
    record.update(lambda_sweep=[], learning_curve=None, match=None, test=None, decisions=[])
    for x in record["experiments"]:
        x.update(gradient_norms={}, health=[])
    if strip == "bare":
        record = {"format": "nnrecipe-run", "version": 1, "experiments": [], "final": None}
    path = write_report(tmp_path, record)
    page = path.read_text(encoding="utf-8")
    for sid in SECTION_IDS:
        assert f'<section id="{sid}">' in page
    assert "could not be read" not in page
    for sid in ("lambda", "boundary", "gradients", "match", "decisions", "test"):
        section = page[page.index(f'<section id="{sid}">'):]
        assert section[:section.index("</section>")].count("Not run") == 1, sid
    figures = {p.name for p in (tmp_path / "figures").glob("*.png")}
    assert figures == (set() if strip == "bare" else {"cost.png", "errors.png", "bias_variance.png"})


def test_rerun_removes_stale_figures(tmp_path):
    write_report(tmp_path, {"lambda_sweep": make_record()["lambda_sweep"]})
    assert (tmp_path / "figures" / "lambda.png").exists()
    write_report(tmp_path, {"lambda_sweep": []})
    assert not (tmp_path / "figures" / "lambda.png").exists()


def test_regression_errors_are_numbers_not_percentages(tmp_path):
    record = make_record()
    record["data"]["kind"] = "regression"
    record["experiments"][0]["train_error"] = 3.25
    page = _text(write_report(tmp_path, record).read_text(encoding="utf-8"))
    assert "3.25" in page and "325.0%" not in page


def test_decision_boundary_on_an_axes(moons_net):
    net, X, y, _ = moons_net
    _, axes = plots.new_figure()
    ax = plots.decision_boundary(axes[0, 0], net.predict, X, y)
    assert ax.collections                                      # filled contour + scatter
    x0, x1 = ax.get_xlim()
    assert x0 < X[:, 0].min() and x1 > X[:, 0].max()
    # three classes from any callable; a probability output is shaded continuously
    plots.decision_boundary(axes[0, 0], lambda P: (P[:, 0] > 0).astype(int) + (P[:, 1] > 0), X, y % 3)
    plots.decision_boundary(axes[0, 0], lambda P: net.predict_proba(P)[:, 1], X, y)


def test_figures_from_a_history(moons_net, tmp_path):
    _, _, _, hist = moons_net
    d = nr.diagnose(hist)
    figs = [plots.cost_curve(hist), plots.error_curves([hist, hist], ["a", "b"]), plots.bias_variance_bar(d),
            plots.gradient_norms({"W1": [1.0, 0.5], "W2": [0.1, 0.0]}),
            plots.lambda_sweep([{"l2": 0.1, "train_error": 0.1, "dev_error": 0.2}])]
    for i, fig in enumerate(figs):
        assert isinstance(fig, Figure)
        png = plots.save(fig, tmp_path / f"{i}.png")
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / f"{i}.png").read_bytes() == png


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_renders_in_headless_chromium(report, tmp_path):
    path, _, _ = report
    shot = tmp_path / "shot.png"
    _chromium(f"--screenshot={shot}", "--window-size=1280,4000", path.as_uri())
    with Image.open(shot) as img:
        assert img.format == "PNG" and img.size == (1280, 4000)
        pixels = np.asarray(img.convert("L"), dtype=float)
    assert pixels.var() > 100                                 # not a blank page: text and figures
    dom = _chromium("--dump-dom", path.as_uri()).stdout.decode("utf-8")
    for sid, title in SECTIONS:
        assert re.search(rf'<section id="{sid}">\s*<h2>{re.escape(title)}</h2>', dom), sid


# ---- issue 11: every figure of the page says the same thing --------------------------------------
def _panels(alt):
    """{experiment id: the dev figure of its panel} from the errors figure's alt text (the panel titles)."""
    titles = alt.split(" | ")[1:]
    found = [re.fullmatch(r"#(\d+) .*·\s+dev (\S+)", t) for t in titles]
    assert all(found), titles
    return {int(m[1]): m[2] for m in found}


def test_panels_are_titled_with_the_dev_error_the_experiment_kept(report):
    path, _, _ = report
    page = Page.read(path)
    record = make_record()
    for x in record["experiments"]:    # neither the lowest epoch's nor the last's figure is the one kept
        dev = x["history"]["dev_error"]
        assert plots.error_text(x["dev_error"]) not in (plots.error_text(min(dev)), plots.error_text(dev[-1]))
    assert _panels(page.alts("errors")[0]) == {1: "9.0%", 2: "6.5%", 3: "7.5%"}
    rows = {int(r[0]): r for r in page.rows("errors") if len(r) == 7 and r[0].isdigit()}
    assert {i: r[4] for i, r in rows.items()} == {1: "9.0%", 2: "6.5%", 3: "7.5%"}
    assert rows[2][2] == "42 / 50"               # best_epoch 41 is an index: the plot's epoch 42
    caption = page.captions("errors")[0]
    assert "lowest dev error" in caption and "the one kept" not in caption


def test_error_curves_titles_and_the_lowest_dev_dot():
    history = {"train_error": [0.3, 0.1, 0.05], "dev_error": [0.3, 0.1, 0.2]}
    fig = plots.error_curves([history, history], ["a", "b"], dev=[0.25, None])
    assert plots.drawn(fig)["titles"] == ["a  ·  dev 25.0%", "b"]
    assert plots.drawn(plots.error_curves([history]))["titles"] == ["#1  ·  dev 20.0%"]    # the last epoch's
    dots = [line for line in fig.axes[0].lines if line.get_label() == "lowest dev"]
    assert len(dots) == 1 and list(dots[0].get_xdata()) == [2]


def _sweep_record(with_ids=True, chosen_l2=1.0, chosen=2):
    """make_record with a λ sweep of three tied dev errors; experiment `chosen` (λ = chosen_l2) is the
    final one, and the sweep point of λ = 1 is experiment 2."""
    record = make_record()
    for x, l2 in zip(record["experiments"], (0.1, chosen_l2, 0.3)):
        x["config"]["l2"] = l2
    record["final"]["experiment"] = chosen
    record["lambda_sweep"] = [{"l2": 0.1, "train_error": 0.01, "dev_error": 0.05, "experiment": 1},
                              {"l2": 0.3, "train_error": 0.02, "dev_error": 0.05, "experiment": 3},
                              {"l2": 1.0, "train_error": 0.03, "dev_error": 0.05, "experiment": 2},
                              {"l2": 3.0, "train_error": 0.08, "dev_error": 0.09, "experiment": 4}]
    if not with_ids:
        for p in record["lambda_sweep"]:
            del p["experiment"]
    return record


@pytest.mark.parametrize("with_ids, chosen_l2, ringed, said", [
    (True, 1.0, "λ of the chosen model: 1", "Ringed: λ = 1, the chosen model (experiment 2), dev error 5.0%."),
    (False, 1.0, "λ of the chosen model: 1", "Ringed: λ = 1, the λ of the chosen model (experiment 2"),
    (True, 0.7, "λ of the chosen model: 1", "Ringed: λ = 1, the chosen model (experiment 2)"),
    (False, 0.7, None, ("No λ of the sweep was kept: the chosen model, experiment 2, has λ = 0.7, which the "
                        "sweep did not try; no point is ringed.")),
])
def test_the_sweep_rings_the_lambda_of_the_chosen_model(tmp_path, with_ids, chosen_l2, ringed, said):
    page = Page.read(write_report(tmp_path, _sweep_record(with_ids, chosen_l2)))
    alt, caption = page.alts("lambda")[0], page.captions("lambda")[0]
    marks = [part for part in alt.split(" | ") if part.startswith("ringed: ")]
    assert marks == ([f"ringed: {ringed}"] if ringed else [])
    assert said in caption and "best λ" not in alt + caption
    assert "Lowest dev error 5.0% at λ = 0.1, 0.3, 1 (a 3-way tie on dev)." in caption


def test_lambda_sweep_marks():
    sweep = [{"l2": 1.0, "train_error": 0.1, "dev_error": 0.2}, {"l2": 0.1, "train_error": 0.1, "dev_error": 0.2}]
    assert plots.drawn(plots.lambda_sweep(sweep))["marks"] == [{"label": "lowest dev: λ = 0.1", "x": 0.1, "y": 0.2}]
    assert plots.drawn(plots.lambda_sweep(sweep, mark=0, mark_label="chosen"))["marks"] == [
        {"label": "chosen", "x": 1.0, "y": 0.2}]
    assert plots.drawn(plots.lambda_sweep(sweep, mark=None))["marks"] == []


LONG_NAME = "flipper_length_in_millimetres_measured_at_the_base"


def test_match_table_shows_whole_column_names(tmp_path):
    record = make_record()                     # its check named the columns x0, x1: a version-1 record
    record["data"]["features"] = ["bill_length_mm", LONG_NAME]
    rows = Page.read(write_report(tmp_path, record)).rows("match")
    assert {r[0] for r in rows[1:]} == {"bill_length_mm", LONG_NAME, "y (label)"}
    record["match"]["features"][1]["name"] = "given by the recipe"      # names recorded: shown as they are
    rows = Page.read(write_report(tmp_path, record)).rows("match")
    assert {r[0] for r in rows[1:]} == {"x0", "given by the recipe", "y (label)"}


def _chromium(*args, timeout=60):
    """Run headless Chromium with a profile of its own; returns the CompletedProcess."""
    with tempfile.TemporaryDirectory() as profile:
        flags = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--force-device-scale-factor=1", f"--user-data-dir={profile}"]
        return subprocess.run(flags + list(args), capture_output=True, timeout=timeout, check=True)


MAGENTA, GREEN, BLUE = (255, 0, 255), (0, 255, 0), (0, 0, 255)
PROBE = ("<style>section:not(#errors), #errors figure { display: none !important; }"
         "#errors { border: 3px solid rgb(255, 0, 255) !important; }"
         "#errors td, #errors th { background: rgb(0, 255, 0) !important; color: rgb(0, 255, 0) !important; "
         "border-color: rgb(0, 255, 0) !important; }"
         "#errors tr:not(.detail) > td:last-child, #errors th:last-child { background: rgb(0, 0, 255) !important; "
         "color: rgb(0, 0, 255) !important; }</style>")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_experiments_table_stays_in_its_card_at_420px(report, tmp_path):
    """At 420 px wide the experiments table lies inside its card, its last column (kept) in view.

    How: a copy of the page gets one extra style sheet (no script) that paints the errors section's
    border magenta, every cell of its table green and the last cell of each experiment's row blue,
    and hides the other sections and the figure (which changes no width). In Chromium's 420 px
    screenshot the card's left and right edges are the columns that are magenta all along the band
    between the card's top edge and the table (a table that runs out paints over the edges lower
    down); the table is the green and blue pixels. The table runs out of its card exactly when some
    green or blue pixel lies at or beyond an edge, and "kept" is out of view (scrolled away, or past
    the window) exactly when no blue pixel shows. Pure colours, far from the page's own palette and
    from anti-aliasing, keep the test independent of fonts and rendering details.
    """
    _, page, _ = report
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</head>", PROBE + "</head>", 1), encoding="utf-8")
    shot = tmp_path / "shot.png"
    _chromium("--window-size=420,3000", f"--screenshot={shot}", probe.as_uri())
    with Image.open(shot) as img:
        assert img.size == (420, 3000)
        rgb = np.asarray(img.convert("RGB"), dtype=int)

    def near(colour):
        return (np.abs(rgb - colour) < 40).all(axis=2)

    edge, table, kept = near(MAGENTA), near(GREEN), near(BLUE)
    assert table.sum() > 1000 and kept.sum() > 100, "the table or its kept column is not in view"
    top = np.flatnonzero(edge.sum(axis=1) > 200).min()               # the card's top edge
    first = np.flatnonzero((table | kept).any(axis=1)).min()         # the table's first row of pixels
    band = edge[top + 12:first]                                      # below the rounded corners
    assert len(band) > 20
    sides = np.flatnonzero(band.all(axis=0))
    left, right = sides.min(), sides.max()
    assert right - left > 300                                        # the card spans the window
    columns = np.flatnonzero((table | kept).any(axis=0))
    assert left < columns.min() and columns.max() < right, (left, right, columns.min(), columns.max())
