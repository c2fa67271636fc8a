"""report.html: one self-contained page from a run record (the dict saved as run.json).

The page needs nothing but itself: CSS inline, every figure a base64 PNG, no script, no link.
The same figures are also written to figures/*.png. Every string taken from the record is
HTML-escaped. Each section is a <section id=...> with an <h2>; one whose data the record lacks
says "not run" and why, so the page keeps one shape whatever the run did; so does a part of a
section whose data an older record lacks (a confusion matrix, the test predictions of a regression).

Record fields read beyond the experiments: data.kind ("binary", "multiclass", "regression"),
data.columns / data.rows_dropped / data.task_reason / data.duplicate_check (the Data section: {set name:
`nnrecipe.doctor.metrics.duplicate_rows` dict}),
test.confusion (`nnrecipe.doctor.metrics.confusion`), and for regression test.rmse / mae / r2 / low /
high / n_boot / actual / predicted (`nnrecipe.doctor.metrics.regression_errors` and the test rows).
"""

import base64
import html
import keyword
import math
from pathlib import Path
from string import Template

import numpy as np

from ..doctor.diagnose import error_interval
from ..doctor.metrics import worse_classes
from . import plots

SECTIONS = (("summary", "Summary"), ("data", "Data"), ("cost", "Cost"), ("errors", "Errors per epoch"),
            ("bias-variance", "Bias and variance"), ("lambda", "λ sweep"), ("boundary", "Decision boundary"),
            ("gradients", "Gradients"), ("match", "Do dev and test match?"), ("decisions", "Decisions"),
            ("test", "Test set"))
FIGURES = ("cost", "errors", "bias_variance", "learning_curve", "lambda", "boundary", "gradients", "confusion",
           "fit")
MATCH_ROWS = 20            # the most different features first; the rest are counted
COLUMN_ROWS = 100          # the Data section's table of columns: the first 100, the rest counted
PLOT_ROWS = 5000           # the regression figures draw at most this many test rows (the first ones)

CASE_WORDS = {
    "good fit": "Good fit: train error is within the tolerance of the baseline and dev error within it of "
                "train error; the recipe has nothing left to fix.",
    "good fit, not confirmed": "Good fit: train error is within the tolerance of the baseline and dev error "
                               "within it of train error; the recipe has nothing left to fix that dev's rows "
                               "could show.",
    "high bias": "High bias: the model does not fit even the training set; train error sits more than the "
                 "tolerance above the baseline.",
    "high variance": "High variance: the model fits the training set but does not generalize; dev error sits "
                     "more than the tolerance above train error.",
    "high bias and high variance": "High bias and high variance: the model fits neither the training set nor, "
                                   "even less, the dev set.",
}

CSS = Template("""
:root { --train: $train; --dev: $dev; --ink: #1f2328; --muted: #5f6b7a; --line: #e3e6ea;
        --high: $high; --fine: $fine; }
* { box-sizing: border-box; }
body { margin: 0; background: #f5f6f8; color: var(--ink);
       font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 960px; margin: 0 auto; padding: 28px 20px 64px; }
h1 { font-size: 28px; margin: 0 0 2px; }
h2 { font-size: 19px; margin: 0 0 12px; }
.meta, figcaption, .sub, .notrun { color: var(--muted); font-size: 13px; }
nav { margin: 12px 0 4px; font-size: 13px; }
nav a { color: var(--muted); text-decoration: none; margin-right: 12px; white-space: nowrap; }
nav a:hover { color: var(--ink); text-decoration: underline; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 18px 24px;
          margin: 16px 0; }
.notrun { font-style: italic; margin: 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(112px, 1fr)); gap: 12px; margin: 4px 0 14px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card .label { display: block; font-size: 12px; letter-spacing: .05em; text-transform: uppercase; color: var(--muted); }
.card .value { display: block; font-size: 26px; font-weight: 650; line-height: 1.25; white-space: nowrap; }
.card.words .value { white-space: normal; }   /* a number stays whole; words may wrap */
.card.big { grid-column: span 2; border-color: var(--ink); }
.card.big .value { font-size: 44px; }
.card.wide { grid-column: span 2; } .card.wide .value { font-size: 24px; }
.card.high .value, .high { color: var(--high); }
.card.fine .value, .fine { color: var(--fine); }
.train { color: var(--train); } .dev { color: var(--dev); }
section { overflow-wrap: break-word; }
.scroll { overflow-x: auto; margin: 8px 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { font-weight: 600; border-bottom: 2px solid var(--line); }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td.n { white-space: nowrap; }
tr.lead td { border-bottom: none; }
#match td:first-child { overflow-wrap: anywhere; min-width: 7em; }   /* a long column name wraps, uncut */
tr.detail td { padding-top: 0; font-size: 12px; }
tr.final td { background: #eef4fb; }
tr.flag td { background: #fbeeee; }
figure { margin: 8px 0 14px; }
figure img { display: block; width: 100%; height: auto; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 11px; color: #fff; font-weight: 600; font-size: 13px; }
.badge.fine { background: var(--fine); color: #fff; } .badge.high { background: var(--high); color: #fff; }
ol, ul { padding-left: 22px; } li { margin: 3px 0; }
@media (max-width: 600px) {
  main { padding: 16px 8px 40px; }
  section { padding: 14px 12px; }
  table { font-size: 12px; }
  th, td { padding: 3px 4px; }
  .card.big .value { font-size: 36px; }
}
""").substitute(train=plots.TRAIN, dev=plots.DEV, high=plots.HIGH, fine=plots.FINE)


def write_report(out_dir, record, net=None, X=None, y=None):
    """Render `record` into out_dir/report.html and out_dir/figures/*.png; returns the html path.

    net, X, y : optional; with a 2-D X (n, 2) and a classifier the page shows net's decision
    boundary over those points.
    """
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    page = _Page(record, out / "figures", net, X, y)
    body = "\n".join(page.section(sid, title) for sid, title in SECTIONS)
    for name in set(FIGURES) - page.written:             # a figure of an earlier run in this folder
        (out / "figures" / f"{name}.png").unlink(missing_ok=True)
    data = record.get("data") or {}
    nav = " ".join(f'<a href="#{sid}">{_e(title)}</a>' for sid, title in SECTIONS)
    facts = ((record.get("created"), "{}"), (record.get("seed"), "seed {}"), (record.get("budget"), "budget {}"))
    meta = " · ".join(_e(form.format(value)) for value, form in facts if value is not None)
    doc = (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
           f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
           f'<title>nnrecipe run: {_e(data.get("name") or "data")}</title>\n<style>{CSS}</style></head>\n'
           f'<body><main>\n<header><h1>nnrecipe run: {_e(data.get("name") or "data")}</h1>\n'
           f'<div class="meta">{meta}</div>\n<nav>{nav}</nav></header>\n{body}\n</main></body></html>\n')
    path = out / "report.html"
    plots.write_bytes(path, doc.encode("utf-8"))
    return path


# ---- formatting ------------------------------------------------------------------------------
def _e(value):
    return html.escape(str(value))


_float = plots.finite


def _pct(value, signed=False):
    """A rate as a percentage, as the figures write it: one decimal, two below 1%."""
    return plots.error_text(value, True, signed)


def _num(value, spec=".3g", signed=False):
    v = _float(value)
    return "—" if v is None else format(v, ("+" if signed else "") + spec)


def _table(head, rows, numeric=(), classes=None, details=None):
    """An HTML table in a box that scrolls sideways inside its section when the table is wider than
    the screen (it never runs out of its card). Cells are already-escaped HTML; columns in `numeric`
    are right-aligned. details : one HTML line per row (or None), shown under it across all columns
    but the first: prose there does not widen the columns of numbers."""
    def cell(tag, i, text):
        return f'<{tag} class="n">{text}</{tag}>' if i in numeric else f"<{tag}>{text}</{tag}>"
    classes, details = classes or [""] * len(rows), details or [None] * len(rows)
    head_html = "".join(cell("th", i, _e(h)) for i, h in enumerate(head))
    body = []
    for row, c, detail in zip(rows, classes, details):
        lead = f"{c} lead".strip() if detail else c
        body.append(f'<tr class="{lead}">' + "".join(cell("td", i, t) for i, t in enumerate(row)) + "</tr>")
        if detail:
            span = len(head) - 1
            body.append(f'<tr class="{f"{c} detail".strip()}"><td></td><td colspan="{span}">{detail}</td></tr>')
    return (f'<div class="scroll"><table><thead><tr>{head_html}</tr></thead><tbody>{"".join(body)}</tbody>'
            "</table></div>")


def _sentence(text):
    """text without the full stop the page adds after it."""
    return str(text).strip().rstrip(".")


def _capital(text):
    return text[:1].upper() + text[1:]


def _outputs(outputs):
    """How many inputs a column became: a count as given, a list of names as its length (the names
    shown on hover); "—" for none."""
    if isinstance(outputs, (list, tuple)):
        names = ", ".join(map(str, outputs))
        return f'<span title="{_e(names)}">{len(outputs)}</span>'
    return "—" if outputs is None else _e(outputs)


def _card(label, value, sub="", cls=""):
    return (f'<div class="card {cls}"><span class="label">{_e(label)}</span>'
            f'<span class="value">{value}</span><span class="sub">{sub}</span></div>')


def _config(cfg):
    """hidden [20, 3] relu · adam lr 0.01 · L2 0.7 · keep 0.86 · batch 64 — the knobs that are set."""
    if not cfg:
        return "—"
    parts = [f"hidden {cfg.get('hidden')} {cfg.get('activation') or ''}".strip(),
             f"{cfg.get('optimizer') or ''} lr {cfg.get('lr')}".strip()]
    if _float(cfg.get("l2")):
        parts.append(f"L2 {cfg['l2']}")
    if (_float(cfg.get("keep_prob")) or 1.0) < 1:
        parts.append(f"keep {cfg['keep_prob']}")
    parts.append(f"batch {cfg.get('batch_size') or 'full'}")
    if cfg.get("augment"):
        parts.append(f"augment {cfg['augment']}")
    return _e(" · ".join(parts))


def _ci(error, n, low=None, high=None):
    """(low, high), the 95% Wilson interval of an error rate measured on n examples: the record's, else
    computed from the error and n; None when there is none (a missing error or n)."""
    if _float(low) is not None and _float(high) is not None:
        return _float(low), _float(high)
    e, n = _float(error), _float(n)
    if e is None or not n or n < 1 or not 0 <= e <= 1:
        return None
    return error_interval(round(e * n), round(n))


# ---- the page --------------------------------------------------------------------------------
class _Page:
    """One method per section; each returns the section's inner HTML, or a str starting
    "not run" (shown muted) when the record lacks its data."""

    def __init__(self, record, figures, net, X, y):
        self.record, self.figures, self.net, self.X, self.y = record, figures, net, X, y
        self.written = set()
        data = record.get("data") or {}
        self.percent = data.get("kind") != "regression"        # regression errors are RMSE, not rates
        self.fmt = _pct if self.percent else _num
        self.measure = "error" if self.percent else "RMSE"     # the cards' word: "Test error", "Test RMSE"
        self.experiments = [x for x in record.get("experiments") or [] if isinstance(x, dict)]
        final = record.get("final") or {}
        by_id = {x.get("id"): x for x in self.experiments}
        kept = [x for x in self.experiments if x.get("kept")]
        self.chosen = by_id.get(final.get("experiment"))         # None until the run has chosen a model
        self.final = self.chosen or (kept or self.experiments or [None])[-1]
        self.diagnosis = final.get("diagnosis") or (self.final or {}).get("diagnosis") or None

    def section(self, sid, title):
        try:
            name = sid.replace("-", "_")
            inner = getattr(self, name + "_" * keyword.iskeyword(name))()
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            inner = f"not run: this part of the record could not be read ({type(exc).__name__}: {exc})"
            inner = _e(inner)
        if inner.startswith("not run"):
            inner = f'<p class="notrun">{_capital(inner)}</p>'
        return f'<section id="{sid}">\n<h2>{_e(title)}</h2>\n{inner}\n</section>'

    def ci(self, error, n, low=None, high=None):
        """'95% CI 3.8%–10.8%, ' for a card, or '' when the error has none. A rate's interval is the
        record's, else Wilson's from the error and n; an RMSE's only the record's (a bootstrap's)."""
        ci = _ci(error, n, low, high) if self.percent else self.interval(low, high)
        return f"95% CI {self.fmt(ci[0])}–{self.fmt(ci[1])}, " if ci else ""

    @staticmethod
    def interval(low, high):
        return (_float(low), _float(high)) if _float(low) is not None and _float(high) is not None else None

    def figure(self, name, fig, alt, caption=""):
        """Save fig as figures/<name>.png and return it as an embedded <figure>. Its alt text says what
        the figure shows, read back from it: `alt`, then each panel's title and each ringed point,
        separated by " | "."""
        shown = plots.drawn(fig)
        alt = " | ".join([alt, *filter(None, shown["titles"]), *(f"ringed: {m['label']}" for m in shown["marks"])])
        png = plots.save(fig, self.figures / f"{name}.png")
        fig.clear()                                     # free the artists now; nothing else holds fig
        self.written.add(name)
        src = base64.b64encode(png).decode("ascii")
        cap = f"<figcaption>{caption}</figcaption>" if caption else ""
        return f'<figure><img src="data:image/png;base64,{src}" alt="{_e(alt)}">{cap}</figure>'

    # 1
    def summary(self):
        r, data, split, d = self.record, self.record.get("data") or {}, self.record.get("split") or {}, self.diagnosis
        features = data.get("features") or []
        shown = ", ".join(map(str, features[:8])) + (f", … ({len(features)} in all)" if len(features) > 8 else "")
        classes = data.get("classes")
        what = {"binary": "binary classification", "multiclass": f"{len(classes or [])}-class classification",
                "regression": "regression"}.get(data.get("kind"), data.get("kind") or "")
        lead = (f"<p><b>{_e(data.get('name', 'data'))}</b>: {_e(data.get('n', '?'))} examples, "
                f"{_e(data.get('n_features', len(features)))} features ({_e(shown)}); {_e(what)}"
                + (f" of classes {_e(', '.join(map(str, classes)))}" if classes and len(classes) <= 10 else "")
                + (", images" if data.get("images") else "") + ".</p>")
        test, cards = r.get("test"), []
        if test:
            ci = self.ci(test.get("error"), test.get("n"), test.get("low"), test.get("high"))
            cards.append(_card(f"Test {self.measure}", self.fmt(test.get("error")), f"{ci}n = {_e(test.get('n'))}",
                               "big"))
            balanced = test.get("balanced") if test.get("metric") == "balanced" else None
            if isinstance(balanced, dict):
                cards.append(_card("Test balanced error", self.fmt(balanced.get("error")),
                                   f"95% CI {self.fmt(balanced.get('low'))}–{self.fmt(balanced.get('high'))}<br>"
                                   "the mean of the per-class error rates", "big"))
        else:
            cards.append(_card(f"Test {self.measure}", "locked", "the test set was not opened", "big"))
        if d:
            case = str(d.get("case", ""))
            cards.append(_card("Diagnosis", _e(case), f"experiment {_e((self.final or {}).get('id', '?'))}",
                               ("wide " if len(case) > 9 else "") + "words "
                               + ("fine" if case == "good fit" else "high")))
            cv = r.get("cv") if isinstance(r.get("cv"), dict) else None
            judged = cv.get("rows") if cv else split.get("dev")
            cards.append(_card(f"Dev {self.measure}", self.fmt(d.get("dev_error")),
                               f"{self.ci(d.get('dev_error'), judged)}n = {_e(judged if judged is not None else '?')}"
                               + (" out of fold (train+dev)" if cv else "")))
            cards.append(_card(f"Train {self.measure}", self.fmt(d.get("train_error")),
                               f"n = {_e(split.get('train', '?'))}"))
        baseline = r.get("baseline") if isinstance(r.get("baseline"), dict) else {}
        estimated = _float(baseline.get("low")) is not None and _float(baseline.get("high")) is not None
        cards.append(_card("Baseline", self.fmt(r.get("baseline_error")),
                           (f"estimated, 95% CI {self.fmt(baseline['low'])}–{self.fmt(baseline['high'])}<br>"
                            if estimated else "") + f"tolerance {self.fmt(r.get('tolerance'))}"))
        parts = [lead, f'<div class="cards">{"".join(cards)}</div>']
        if baseline.get("note") or baseline.get("reason"):
            parts.append(f"<p class='sub'>Baseline: {_e(baseline.get('note') or baseline.get('reason'))}.</p>")
        if baseline.get("lowered_from") is not None:
            parts.append(f"<p class='sub'>Lowered from {self.fmt(baseline['lowered_from'])} to "
                         f"{self.fmt(baseline.get('estimate'))}, {_e(baseline.get('method'))}: it lies under the "
                         "estimate beyond dev's noise, and a reachable error bounds the irreducible one.</p>")
        final = r.get("final") or {}
        cv, refit = r.get("cv") if isinstance(r.get("cv"), dict) else None, final.get("refit") or {}
        if cv:
            parts.append(f"<p class='sub'>Decisions by {_e(cv.get('folds'))}-fold cross-validation over train+dev "
                         f"({_e(cv.get('rows'))} rows; {_e(cv.get('reason'))}): an experiment's dev error is its "
                         "out-of-fold error, and the chosen configuration was refitted on all of train+dev"
                         + (f" ({_e(refit['epochs'])} epochs)" if refit.get("epochs") is not None else "") + ".</p>")
        elif refit:
            parts.append(f"<p class='sub'>Decisions on dev; the chosen configuration was then refitted on all "
                         f"{_e(refit.get('rows'))} rows of train+dev"
                         + (f" ({_e(refit['epochs'])} epochs)" if refit.get("epochs") is not None else "")
                         + ": the test set scores that model.</p>")
        if (test or {}).get("metric") == "balanced":
            parts.append("<p class='sub'>Decisions on the balanced error (the mean of the per-class error rates, "
                         "for a rare class): train, dev and the diagnosis read it; the error rate is shown beside "
                         "it.</p>")
        if final.get("confirmed") is False:
            parts.append(f"<p class='high'>The good fit is not confirmed: dev's 95% interval reaches "
                         f"{self.fmt(final.get('dev_high'))}, more than the tolerance above the baseline.</p>")
        note = str(r.get("final_note") or "")
        if note:
            parts.append(f"<p><b>{_e(_capital(note))}.</b></p>")
        parts += [f'<p class="high"><b>Warning:</b> {_e(w)}.</p>' for w in r.get("warnings") or []]
        if d:
            unconfirmed = ", not confirmed" if final.get("confirmed") is False else ""   # dev's rows cannot back it
            words = CASE_WORDS.get(f"{d.get('case')}{unconfirmed}", f"{d.get('case')}.")
            gaps = (f" Avoidable bias {self.fmt(d.get('avoidable_bias'), signed=True)}, variance "
                    f"{self.fmt(d.get('variance'), signed=True)}, tolerance {self.fmt(d.get('tolerance'))}.")
            steps = d.get("next_steps") or []
            nxt = (f" Next: {_e('; '.join(map(str, steps)))}." if steps and d.get("case") != "good fit" and not note
                   else "")                       # a final note says the data shows nothing a next step could gain
            parts.append(f"<p>{_e(words)}{gaps}{nxt}</p>")
        if split:
            why = f" — {_e(split['reason'])}" if split.get("reason") else ""
            parts.append(f"<p>Split: train {_e(split.get('train'))} · dev {_e(split.get('dev'))} · test "
                         f"{_e(split.get('test'))}{why}.</p>")
        return "\n".join(parts)

    # 1b
    def data(self):
        data = self.record.get("data") or {}
        columns = [c for c in data.get("columns") or [] if isinstance(c, dict)]
        dropped, task_reason = data.get("rows_dropped"), data.get("task_reason")
        checks = data.get("duplicate_check") or data.get("duplicates") or {}
        duplicates = [d for d in checks.values() if isinstance(d, dict) and d.get("message")]
        if not columns and dropped is None and not task_reason:
            return ("not run: the record has no account of the columns, rows and task (it was written before "
                    "the Data section)")
        parts = []
        if task_reason:
            what = {"binary": "binary classification", "multiclass": "multi-class classification",
                    "regression": "regression"}.get(data.get("kind"), data.get("kind") or "the task")
            why = task_reason.split(": ", 2)[-1] if task_reason.startswith("task: ") else task_reason  # the trail's
            parts.append(f"<p><b>Task: {_e(what)}</b> — {_e(_sentence(why))}.</p>")
        if isinstance(dropped, dict):
            counts = {str(k): v for k, v in dropped.items() if _float(v)}
            total = sum(int(v) for v in counts.values())
            parts.append("<p>No rows were dropped.</p>" if not total else
                         f"<p><b>Rows dropped: {total}</b> ("
                         + "; ".join(f"{_e(k)}: {_e(int(v))}" for k, v in counts.items()) + ").</p>")
        if columns:
            parts.append(self._columns_table(columns))
        elif data.get("n_features") is not None:           # arrays or images: no table to prepare
            pixels = " of pixels" if data.get("images") else ""
            parts.append(f"<p>The data came as numbers ({_e(data.get('n_features'))} columns{pixels}): every column "
                         "used as it is, standardized with the training rows' mean and variance.</p>")
        else:
            parts.append('<p class="notrun">Not run: the record lists no columns.</p>')
        items = [f"<li>{_e(_capital(_sentence(d['message'])))}.</li>" for d in duplicates]
        if items:
            parts.append(f"<p>Held-out rows that repeat a training row, against chance:</p><ul>{''.join(items)}</ul>")
        return "\n".join(parts)

    def _columns_table(self, columns):
        """Each column: its kind, what was done with it and into how many inputs; why, as prose below."""
        dropped = [str(c.get("action") or "").lower().startswith("drop") for c in columns]
        rows, details = [], []
        for c in columns[:COLUMN_ROWS]:
            rows.append([_e(c.get("column", "?")), _e(c.get("kind") or "—"), _e(c.get("action") or "—"),
                         _outputs(c.get("outputs"))])
            details.append(_e(c["reason"]) if c.get("reason") else None)
        lead = (f"<p>{len(columns)} columns read: {len(columns) - sum(dropped)} used, {sum(dropped)} dropped"
                + (" (red rows)" if any(dropped[:COLUMN_ROWS]) else "") + ". Everything learned from them "
                "(medians, vocabularies, scales) came from the training rows only.</p>")
        more = (f"<p class='sub'>… and {len(columns) - COLUMN_ROWS} more columns.</p>"
                if len(columns) > COLUMN_ROWS else "")
        classes = ["flag" if d else "" for d in dropped[:COLUMN_ROWS]]
        return lead + _table(["column", "kind", "action", "inputs"], rows, numeric={3}, classes=classes,
                             details=details) + more

    # 2
    def cost(self):
        if not self.final or not (self.final.get("history") or {}).get("cost"):
            return "not run: no experiment recorded a cost curve"
        others = [x["history"] for x in self.experiments
                  if x is not self.final and (x.get("history") or {}).get("cost")]
        fig = plots.cost_curve(self.final["history"], others,
                               title=f"Cost J per epoch: experiment {self.final.get('id')} (final)")
        cap = ("Bold: J = (1/m)·ΣL + (λ/2m)·Σ‖W‖² on the training set; dashed: its penalty term "
               "(λ/2m)·Σ‖W‖²; grey: the other experiments. J should fall steadily; a rise or a jagged "
               "curve points at the learning rate.")
        return self.figure("cost", fig, "cost per epoch", _e(cap))

    # 3
    def errors(self):
        runs = [x for x in self.experiments if (x.get("history") or {}).get("train_error")]
        if not runs:
            return "not run: no experiment recorded its errors"
        labels = [f"#{x.get('id')} {x.get('knob', '')}" + (" (final)" if x is self.final else "") for x in runs]
        highlight = next((i for i, x in enumerate(runs) if x is self.final), None)
        fig = plots.error_curves([x["history"] for x in runs], labels, highlight,
                                 _float(self.record.get("baseline_error")), self.percent,
                                 dev=[x.get("dev_error") for x in runs])
        cap = ('<span class="train">Train</span> and <span class="dev">dev</span> error per epoch, one panel '
               "per experiment, titled with the dev error of the weights the experiment kept (its final "
               "weights: the table's dev column, the figure the recipe compares). The dot marks the epoch of "
               "lowest dev error, for reference; the recipe does not stop there.")
        rows, classes, details = [], [], []
        for x in self.experiments:
            case = (x.get("diagnosis") or {}).get("case", "")
            low = x.get("best_epoch")
            epochs = _e(x.get("epochs", "—"))
            rows.append([_e(x.get("id")), _e(x.get("knob", "")),
                         f"{_e(low + 1)} / {epochs}" if isinstance(low, int) else epochs,
                         self.fmt(x.get("train_error")), self.fmt(x.get("dev_error")), _e(case),
                         "✓" if x.get("kept") else "—"])
            classes.append("final" if x is self.final else "")
            outcome = f" → {_e(x['outcome'])}" if x.get("outcome") else ""      # version 2 records
            details.append(f"{_e(x.get('why', ''))}{outcome}<br><span class='sub'>{_config(x.get('config'))}</span>")
        table = _table(["#", "knob", "lowest dev / epochs", "train", "dev", "case", "kept"],
                       rows, numeric={0, 2, 3, 4}, classes=classes, details=details)
        return self.figure("errors", fig, "train and dev error per epoch", cap) + table

    # 4
    def bias_variance(self):
        d = self.diagnosis
        if not d or _float(d.get("train_error")) is None or _float(d.get("dev_error")) is None:
            return "not run: no final diagnosis"
        fig = plots.bias_variance_bar(d, percent=self.percent)
        cap = (f"Avoidable bias = train − baseline = {self.fmt(d.get('avoidable_bias'), signed=True)}; "
               f"variance = dev − train = {self.fmt(d.get('variance'), signed=True)}. The larger gap above "
               "the tolerance names the next knob: bias → a bigger network or longer training, "
               "variance → more data or regularization.")
        parts = [self.figure("bias_variance", fig, "baseline, train and dev error", _e(cap))]
        curve = self.record.get("learning_curve")
        if curve and curve.get("sizes"):
            fig = plots.learning_curve(curve, percent=self.percent)
            parts.append(self.figure("learning_curve", fig, "learning curve",
                                     _e(curve.get("verdict") or "Train and dev error against training-set size.")))
        return "\n".join(parts)

    # 5
    def lambda_(self):
        sweep = [p for p in self.record.get("lambda_sweep") or [] if isinstance(p, dict)]
        if not sweep:
            return "not run: the recipe did not sweep λ in this run"
        at, own = self._chosen_point(sweep)
        c = self.chosen
        if at is None:
            fig = plots.lambda_sweep(sweep, percent=self.percent, mark=None)
            l2 = _float(((c or {}).get("config") or {}).get("l2"))
            why = ("the run has not chosen a model" if c is None else
                   f"the chosen model, experiment {c.get('id')}, has λ = {_num(l2, 'g')}, which the sweep did not try")
            ringed = f"No λ of the sweep was kept: {why}; no point is ringed."
        else:
            lam = _num(sweep[at].get("l2"), "g")
            fig = plots.lambda_sweep(sweep, percent=self.percent, mark=at, mark_label=f"λ of the chosen model: {lam}")
            ringed = (f"Ringed: λ = {lam}, the chosen model (experiment {c.get('id')}), dev error "
                      f"{self.fmt(sweep[at].get('dev_error'))}." if own else
                      f"Ringed: λ = {lam}, the λ of the chosen model (experiment {c.get('id')}, dev error "
                      f"{self.fmt(c.get('dev_error'))}); the sweep's model with that λ"
                      + (f" (experiment {sweep[at]['experiment']})" if sweep[at].get("experiment") is not None else "")
                      + f" has dev error {self.fmt(sweep[at].get('dev_error'))}.")
        devs = [d for d in (_float(p.get("dev_error")) for p in sweep) if d is not None]
        lowest = ""
        if devs:
            tied = sorted({_float(p.get("l2")) for p in sweep if _float(p.get("dev_error")) == min(devs)})
            at_lam = ", ".join(_num(v, "g") for v in tied)
            lowest = (f" Lowest dev error {self.fmt(min(devs))} at λ = {at_lam}"
                      + (f" (a {len(tied)}-way tie on dev)." if len(tied) > 1 else "."))
        cap = (f"Each point a model trained with L2 strength λ (log axis). {ringed}{lowest} A smaller λ "
               "usually widens the train–dev gap (variance); a larger one raises both errors (bias).")
        return self.figure("lambda", fig, "error against lambda", _e(cap))

    def _chosen_point(self, sweep):
        """(index into sweep, True) of the point that is the chosen model (its "experiment", version 2
        records); else (index, False) of the first point with the chosen model's λ; else (None, False)."""
        c = self.chosen
        if c is None:
            return None, False
        for i, p in enumerate(sweep):
            if "experiment" in p and p.get("experiment") == c.get("id"):
                return i, True
        l2 = _float((c.get("config") or {}).get("l2"))
        for i, p in enumerate(sweep):
            if l2 is not None and _float(p.get("l2")) is not None and math.isclose(_float(p.get("l2")), l2):
                return i, False
        return None, False

    # 6
    def boundary(self):
        X, y, net = self.X, self.y, self.net
        if net is None or X is None or y is None:
            return "not run: drawn only when the model and its data are given"
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != 2 or not self.percent:
            return "not run: drawn only for classification on 2-D data"
        features = ((self.record.get("data") or {}).get("features") or ["x0", "x1"])[:2]
        fig = plots.decision_boundary_figure(net.predict, X, y, "Decision boundary of the final model",
                                             [str(f) for f in features])
        wrong = int(np.sum(np.asarray(net.predict(X)).ravel() != np.asarray(y).ravel()))
        cap = (f"Shaded: the class the model predicts over the data range; points: the {len(X)} examples "
               f"given, coloured by their true class ({wrong} on the wrong side).")
        return self.figure("boundary", fig, "decision boundary", _e(cap))

    # 7
    def gradients(self):
        norms = (self.final or {}).get("gradient_norms") or {}
        parts = []
        if norms:
            checked = self.final.get("gradient_epochs") or []
            lengths = {len(v) for v in norms.values()}
            x = np.asarray(checked) + 1 if lengths == {len(checked)} else None    # the epoch of each check
            fig = plots.gradient_norms(norms, x, title=f"Gradient norm per layer: experiment {self.final.get('id')}")
            parts.append(self.figure("gradients", fig, "gradient norm per layer",
                                     "‖∂J/∂W‖ per layer at each check (log scale). Lines falling by decades "
                                     "towards the first layer mean vanishing gradients; rising ones, exploding."))
        findings = [(x.get("id"), f) for x in self.experiments for f in (x.get("health") or [])]
        items = [f"<li><b>{_e(f.get('rule', 'finding'))}</b> — experiment {_e(i)}, layer {_e(f.get('layer', '?'))}"
                 + (f", epoch {_e(f['epoch'])}" if f.get("epoch") is not None else "")
                 + f": {_e(f.get('message', ''))}"
                 + (f"<br><span class='fine'>Repair: {_e(f['repair'])}</span>" if f.get("repair") else "") + "</li>"
                 for i, f in findings]
        if items:
            parts.append(f"<p>Health findings ({len(items)}):</p><ul>{''.join(items)}</ul>")
        elif norms:
            parts.append('<p class="fine">No health findings: every check passed.</p>')
        return "\n".join(parts) or "not run: no gradient checks were recorded"

    # 8
    def match(self):
        m = self.record.get("match")
        if not m:
            return "not run: dev and test were not compared"
        same = bool(m.get("same"))
        alpha = _float(m.get("alpha")) or 0.05
        head = (f'<p><span class="badge {"fine" if same else "high"}">{"same" if same else "different"}</span> '
                f"{_e(m.get('verdict', ''))}</p>")
        auc = ""
        if _float(m.get("auc")) is not None:
            auc = (f"<p>Domain classifier AUC {_num(m.get('auc'), '.3f')} (p = {_num(m.get('auc_p_value'), '.2g')}): "
                   "a classifier trained to tell dev rows from test rows; 0.5 means it cannot.</p>")
        tests = [t for t in (m.get("features") or []) if isinstance(t, dict)]
        name = self._column_names(tests)
        label = m.get("label")
        rows, classes = [], []
        for t in tests[:MATCH_ROWS] + ([dict(label, name=f"{label.get('name', 'label')} (label)")] if label else []):
            rows.append([_e(name(t.get("name"))), _e(t.get("test")), _num(t.get("statistic")),
                         _num(t.get("p_value"), ".2g"), _num(t.get("p_adjusted"), ".2g")])
            adjusted = _float(t.get("p_adjusted"))
            classes.append("flag" if adjusted is not None and adjusted <= alpha else "")
        more = f"<p class='sub'>… and {len(tests) - MATCH_ROWS} more features.</p>" if len(tests) > MATCH_ROWS else ""
        sizes = f"<p class='sub'>dev n = {_e(m.get('n_a', '?'))}, test n = {_e(m.get('n_b', '?'))}, " \
                f"α = {alpha:g}, p adjusted by Holm; red rows reject at α.</p>"
        table = _table(["feature", "test", "statistic", "p", "adjusted p"], rows, numeric={2, 3, 4}, classes=classes)
        return head + auc + (table if rows else "") + more + sizes

    def _column_names(self, tests):
        """name -> the column's name to show. A record whose check named the columns x0, x1, … (the
        recipe gave check_match no names) gets the names of data.features, which are in the same
        order, when there is one per tested column; any other name is shown as recorded."""
        features = (self.record.get("data") or {}).get("features") or []
        given = {str(t.get("name")) for t in tests}
        if len(features) != len(tests) or given != {f"x{j}" for j in range(len(tests))}:
            return str
        return lambda name: str(features[int(str(name)[1:])]) if str(name) in given else str(name)

    # 9
    def decisions(self):
        steps = self.record.get("decisions") or []
        if not steps:
            return "not run: no decisions were recorded"
        return "<ol>" + "".join(f"<li>{_e(s)}</li>" for s in steps) + "</ol>"

    # 10
    def test(self):
        t = self.record.get("test")
        if not t:
            return "not run: the test set was not opened; it stays locked until the final model is chosen"
        if self.percent:
            ci = _ci(t.get("error"), t.get("n"), t.get("low"), t.get("high"))
            how = "Wilson score interval"
        else:
            ci = self.interval(t.get("low"), t.get("high"))
            how = f"percentile bootstrap, {t['n_boot']} resamples" if t.get("n_boot") else "bootstrap"
        cards = _card(f"Test {self.measure}", self.fmt(t.get("error", t.get("rmse"))), f"n = {_e(t.get('n'))}", "big")
        if ci:
            cards += _card("95% interval", f"{self.fmt(ci[0])}–{self.fmt(ci[1])}", how, "wide")
        if not self.percent:
            cards += _card("MAE", _num(t.get("mae")), "mean |actual − predicted|")
            cards += _card("R²", _num(t.get("r2"), ".3f"), "1 − SS_res / SS_tot")
        openings = t.get("openings") or [{"at": t.get("opened_at"), "reason": t.get("reason")}]
        said = [f"at {_e(o.get('at') or '?')}, for: {_e(o.get('reason') or '?')}" for o in openings]
        opened = (f"<p>Opened once, {said[0]}." if len(openings) == 1 else
                  f"<p>Opened {len(openings)} times:</p><ol>{''.join(f'<li>{x}</li>' for x in said)}</ol><p>")
        warned = self.record.get("warnings") or []
        verdict = "".join(f" {_e(_capital(w))}." for w in warned) or (
            " The test error played no part in any decision above, so it is an unbiased estimate of the error "
            "on new data from the same distribution.")
        more = self._confusion(t) if self.percent else self._fit(t, ci)
        return f'<div class="cards">{cards}</div>{opened}{verdict}</p>\n{more}'

    def _confusion(self, t):
        """The confusion matrix and the per-class error table; a class far above the overall error is
        red in both and said in words (metrics.worse_classes: its interval lies above the overall error
        and its error is at least twice it)."""
        c = t.get("confusion")
        if not c:
            return '<p class="notrun">Not run: the record holds no confusion matrix (an older run).</p>'
        per_class = [p for p in c.get("per_class") or [] if isinstance(p, dict)]
        flagged = worse_classes({"per_class": per_class, "error": c.get("error")})
        labels = c.get("labels") or [p.get("label") for p in per_class]
        n = sum(int(p.get("n") or 0) for p in per_class)
        overall = _float(c.get("error"))
        overall = overall if overall is not None else (sum(int(p.get("errors") or 0) for p in per_class) / n
                                                       if n else None)
        fig = plots.confusion_figure(c["matrix"], labels, per_class, overall, flagged)
        cap = ("Left: rows are the true class, columns the class predicted; each cell gives its count, shaded by "
               "its share of the true class's rows, so a rare class reads as clearly as a common one; the "
               "diagonal is right. Right: each class's test error with its 95% Wilson interval, against the "
               "overall error (dashed)" + ("; red: a class far above it." if flagged else "."))
        parts = [self.figure("confusion", fig, "confusion matrix of the test set", _e(cap))]
        rows, classes = [], []
        for i, p in enumerate(per_class):
            ci = self.interval(p.get("low"), p.get("high"))
            rows.append([_e(p.get("label")), _e(p.get("n")), _e(p.get("errors")), _pct(p.get("error")),
                         f"{_pct(ci[0])}–{_pct(ci[1])}" if ci else "—"])
            classes.append("flag" if i in flagged else "")
        parts.append(_table(["class", "rows", "errors", "error", "95% interval"], rows, numeric={1, 2, 3, 4},
                            classes=classes))
        balanced = _float(c.get("balanced_error"))
        said = [f"Overall test error {_pct(overall)}" + (f"; balanced error (the mean of the per-class errors) "
                                                         f"{_pct(balanced)}" if balanced is not None else "") + "."]
        for i in flagged:
            p = per_class[i]
            said.append(f'<span class="high">Class {_e(p.get("label"))} is wrong on {_pct(p.get("error"))} of its '
                        f'{_e(p.get("n"))} test rows (95% CI {_pct(p.get("low"))}–{_pct(p.get("high"))}), far above '
                        "the overall error: the overall figure hides it.</span>")
        if not flagged and len(per_class) > 1:
            said.append("No class's error stands out from the overall error beyond the noise of its rows.")
        parts.append(f"<p>{' '.join(said)}</p>")
        return "\n".join(parts)

    def _fit(self, t, ci):
        """Predicted against actual and the residuals, for regression; the errors in the captions."""
        actual, predicted = t.get("actual"), t.get("predicted")
        if not actual or not predicted:
            return '<p class="notrun">Not run: the record holds no test predictions to plot.</p>'
        shown = min(len(actual), len(predicted), PLOT_ROWS)
        actual, predicted = actual[:shown], predicted[:shown]
        interval = f" (95% CI {_num(ci[0])}–{_num(ci[1])}, bootstrap)" if ci else ""
        errors = (f"RMSE {_num(t.get('error', t.get('rmse')))}{interval}, MAE {_num(t.get('mae'))}, "
                  f"R² {_num(t.get('r2'), '.3f')} on {_e(t.get('n', shown))} test rows"
                  + (f" ({shown} drawn)" if _float(t.get("n")) and shown < _float(t.get("n")) else "") + ".")
        fig = plots.regression_figure(actual, predicted)
        cap = (f"Left: each test row's prediction against its actual target; on the dashed diagonal the prediction "
               f"is exact. Right: the residual (actual − predicted) against the prediction; dotted: ± the RMSE. A "
               f"band even around zero is what a good fit leaves; a slope, a curve or a funnel is structure the "
               f"model missed. {errors}")
        return self.figure("fit", fig, "predicted against actual, and the residuals", _e(cap))
