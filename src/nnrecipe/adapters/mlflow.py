"""Log a finished nnrecipe run to MLflow, so that its experiments show in the usual tracking UI.

mlflow is imported only inside `check` and `log_run`: install it with `pip install 'nnrecipe[mlflow]'`.
"""

import json
import os
import time
from datetime import datetime
from pathlib import Path
from unittest import mock

from .._version import __version__
from ..errors import NNRecipeError

MISSING = "--mlflow needs the mlflow extra: pip install 'nnrecipe[mlflow]'"
BATCH = 1000                            # MLflow's limit on metrics per log_batch call
HISTORY = ("cost", "penalty", "train_error", "dev_cost", "dev_error")


def check(uri):
    """Fail fast, before a long run: import mlflow and open the tracking store at `uri` (a file
    store is created if needed; a server is asked for one experiment, without retries, so an
    unreachable one fails in seconds). Raises NNRecipeError with the advice `log_run` would give."""
    MlflowClient, *_, MlflowException = _mlflow()
    quick = {k: os.environ.get(k, v)           # no retries, 10 s; values the user set win
             for k, v in (("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0"), ("MLFLOW_HTTP_REQUEST_TIMEOUT", "10"))}
    try:
        with mock.patch.dict(os.environ, quick):
            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except MlflowException as exc:
        raise NNRecipeError(f"MLflow at {uri!r} cannot take the run: {exc.message}") from None


def _mlflow():
    """(MlflowClient, Metric, Param, RunTag, MlflowException), or NNRecipeError saying how to install mlflow."""
    try:
        from mlflow import MlflowClient
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.exceptions import MlflowException
    except ImportError:
        raise NNRecipeError(MISSING) from None
    return MlflowClient, Metric, Param, RunTag, MlflowException


def log_run(out_dir, record, uri, experiment="nnrecipe"):
    """Log the run in `out_dir` (its run.json dict `record`; None reads out_dir/run.json) to the
    MLflow tracking server or store at `uri`, under the MLflow experiment `experiment`.
    Returns the id of the parent MLflow run.

    Parent run, named "<data name> <created>":
      params   data.name, data.n, split.train/dev/test, baseline_error, tolerance, budget, seed, and
               the chosen experiment's config: hidden ("20,3"), l2, keep_prob, lr, epochs,
               batch_size, optimizer, activation
      metrics  train_error, dev_error (the chosen experiment), test_error, test_low/test_high (95% Wilson),
               avoidable_bias, variance, spent_epochs
      tags     nnrecipe.case (the final diagnosis), nnrecipe.match (dev/test verdict),
               nnrecipe.match_same, nnrecipe.final_experiment, nnrecipe.version
      artifacts report.html, figures/, run.json and the chosen model (model.npz or model.pt)
    One nested child run per experiment ("exp01", ...): its config as params, knob and why as tags,
    its model file as an artifact, and its history per epoch (cost, penalty, train_error, dev_cost,
    dev_error) as metrics whose step is the epoch, sent with log_batch in chunks of 1000 values.
    None values are skipped. The tracking URI is used through its own MlflowClient: mlflow's
    global state (tracking URI, active run) is left as it was.
    """
    MlflowClient, Metric, Param, RunTag, MlflowException = _mlflow()
    out = Path(out_dir)
    if record is None:
        record = json.loads((out / "run.json").read_text())
    final = record.get("final") or {}
    chosen = next((e for e in record["experiments"] if e["id"] == final.get("experiment")), record["experiments"][-1])
    diagnosis, test, data, split = final.get("diagnosis") or {}, record.get("test") or {}, record["data"], record["split"]
    now = int(time.time() * 1000)

    def send(client, run_id, params=None, metrics=(), tags=None):
        params = [Param(k, _text(v)) for k, v in (params or {}).items() if v is not None]
        tags = [RunTag(k, _text(v)) for k, v in (tags or {}).items() if v is not None]
        metrics = [m for m in metrics if m.value is not None]
        client.log_batch(run_id, metrics=metrics[:BATCH], params=params, tags=tags)
        for i in range(BATCH, len(metrics), BATCH):
            client.log_batch(run_id, metrics=metrics[i:i + BATCH])

    def artifact(client, run_id, path, folder=None):
        if path.is_dir():
            client.log_artifacts(run_id, str(path), path.name)
        elif path.is_file():
            client.log_artifact(run_id, str(path), folder)

    try:
        client = MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else client.create_experiment(experiment)
        parent = client.create_run(experiment_id, start_time=_millis(record.get("created")) or now,
                                   run_name=f"{data['name']} {record.get('created', '')}".strip()).info.run_id
        params = {"data.name": data["name"], "data.n": data.get("n"), "split.train": split.get("train"),
                  "split.dev": split.get("dev"), "split.test": split.get("test"),
                  **{k: record.get(k) for k in ("baseline_error", "tolerance", "budget", "seed")},
                  **_config(chosen["config"])}
        values = {"train_error": chosen["train_error"], "dev_error": chosen["dev_error"],
                  "test_error": test.get("error"), "test_low": test.get("low"), "test_high": test.get("high"),
                  "avoidable_bias": diagnosis.get("avoidable_bias"), "variance": diagnosis.get("variance"),
                  "spent_epochs": record.get("spent_epochs")}
        match = record.get("match") or {}
        send(client, parent, params, [Metric(k, v, now, 0) for k, v in values.items()],
             {"nnrecipe.case": diagnosis.get("case"), "nnrecipe.match": match.get("verdict"),
              "nnrecipe.match_same": match.get("same"), "nnrecipe.final_experiment": chosen["id"],
              "nnrecipe.version": __version__})
        model = next((m for m in (final.get("model"), "model.npz", "model.pt") if m and (out / m).is_file()), None)
        for name in ("report.html", "figures", "run.json", model):
            if name:
                artifact(client, parent, out / name)
        for e in record["experiments"]:
            child = client.create_run(experiment_id, start_time=now, run_name=f"exp{e['id']:02d}",
                                      tags={"mlflow.parentRunId": parent}).info.run_id
            first = e.get("trained_epochs", e["epochs"]) - e["epochs"]     # a warm start continues the steps
            metrics = [Metric(k, v, now, first + i) for k in HISTORY for i, v in enumerate(e["history"].get(k) or [])]
            send(client, child, _config(e["config"]), metrics,
                 {"nnrecipe.knob": e.get("knob"), "nnrecipe.why": e.get("why"), "nnrecipe.kept": e.get("kept")})
            if e.get("model"):
                artifact(client, child, out / e["model"], "model")
            client.set_terminated(child)
        client.set_terminated(parent)
    except MlflowException as exc:
        raise NNRecipeError(f"MLflow at {uri!r} refused the run: {exc.message}") from exc
    return parent


def _config(config):
    """An experiment's config as flat params; hidden as "20,3"."""
    return {k: ",".join(map(str, v)) if k == "hidden" else v for k, v in config.items()}


def _text(value):
    return str(value).lower() if isinstance(value, bool) else str(value)


def _millis(iso):
    return int(datetime.fromisoformat(iso).timestamp() * 1000) if iso else None
