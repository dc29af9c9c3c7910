"""load_metrics: a training run's metrics.jsonl as a Dataset over step, robust to a killed writer."""

import json
import logging
import math

import numpy as np
import pytest
import xarray as xr

from grokphase.validation.run_metrics import load_metrics

ROWS = [
    {"step": 0, "time": 0.01, "lr": 0.001, "batch_loss": math.nan, "train_acc": 0.1, "phase": "warmup",
     "token_norms": [1.0, 2.0, 3.0], "frozen": False},
    {"step": 1, "time": 0.5, "lr": 0.002, "batch_loss": 2.25, "train_acc": 0.25, "phase": "warmup",
     "token_norms": [1.5, 2.5, 3.5], "frozen": False, "probe": {"med": 0.3, "n": 4}},
    {"step": 10, "time": 1.5, "lr": 0.002, "batch_loss": 1.0, "train_acc": None, "phase": "main",
     "token_norms": [2.0, 3.0, 4.0], "frozen": True, "probe": {"med": 0.6, "n": 5}},
]


def _write(folder, rows, tail=""):
    folder.mkdir(parents=True, exist_ok=True)
    # json.dumps as the training loop writes it (bare NaN allowed), one object per line
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + tail)
    return folder


def test_rows_become_typed_variables_over_step(tmp_path):
    ds = load_metrics(_write(tmp_path / "run", ROWS))
    assert ds.step.values.tolist() == [0, 1, 10] and ds.step.dtype == np.int64
    np.testing.assert_array_equal(ds.lr.values, [0.001, 0.002, 0.002])
    assert math.isnan(float(ds.batch_loss.sel(step=0))) and float(ds.batch_loss.sel(step=10)) == 1.0
    assert np.isnan(ds.train_acc.values[2]) and ds.train_acc.values[1] == 0.25      # null -> nan
    assert ds.phase.values.tolist() == ["warmup", "warmup", "main"]
    assert ds.frozen.dtype == bool and ds.frozen.values.tolist() == [False, False, True]
    assert ds.token_norms.dims == ("step", "token_norms_index")
    np.testing.assert_array_equal(ds.token_norms.sel(step=1), [1.5, 2.5, 3.5])
    # a nested object is flattened; absent in row 0: nan (float), and the ints stay ints only when complete
    assert np.isnan(ds.probe_med.values[0]) and ds.probe_med.values[1:].tolist() == [0.3, 0.6]
    assert ds.probe_n.dtype == np.float64 and ds.probe_n.values[1:].tolist() == [4.0, 5.0]
    assert ds.time.attrs["units"] == "s" and ds.lr.attrs["long_name"] == "learning rate"
    assert ds.attrs["rows"] == 3 and ds.attrs["partial_last_line"] is False


def test_partial_last_line_is_ignored_with_a_warning(tmp_path, caplog):
    full = load_metrics(_write(tmp_path / "a", ROWS))
    killed = _write(tmp_path / "b", ROWS, tail=json.dumps({"step": 20, "lr": 0.002})[:9])
    with caplog.at_level(logging.WARNING, logger="grokphase.validation.run_metrics"):
        ds = load_metrics(killed)
    assert "partial last line 4" in caplog.text and str(killed / "metrics.jsonl") in caplog.text
    assert ds.attrs["partial_last_line"] is True
    xr.testing.assert_equal(ds, full)    # equal values, dims and coordinates (attrs differ as above)
    # a complete last object whose newline was lost is a row, not a partial line
    ds = load_metrics(_write(tmp_path / "c", ROWS, tail=json.dumps({"step": 20, "lr": 0.003})))
    assert ds.step.values.tolist() == [0, 1, 10, 20] and float(ds.lr.sel(step=20)) == 0.003


@pytest.mark.parametrize("bad,match", [
    ('{"step": 5, "lr": 0.1\n', r"line 2: not valid JSON"),
    ('[1, 2]\n', r"line 2: expected a JSON object"),
    ('{"lr": 0.1}\n', r"line 2: 'step' must be an integer"),
    ('{"step": 1.5}\n', r"line 2: 'step' must be an integer"),
    ('{"step": 0, "lr": 0.1}\n', r"line 2: step 0 repeats line 1"),
])
def test_corrupt_middle_line_names_file_and_line(tmp_path, bad, match):
    folder = tmp_path / "run"
    folder.mkdir()
    good = [json.dumps({"step": s, "lr": 0.1}) + "\n" for s in (0, 3, 4)]
    (folder / "metrics.jsonl").write_text(good[0] + bad + good[1] + good[2])
    with pytest.raises(ValueError, match=rf"metrics.jsonl, {match}"):
        load_metrics(folder)


def test_type_changes_and_missing_files_are_named(tmp_path):
    _write(tmp_path / "t", [{"step": 0, "x": 1.0}, {"step": 1, "x": "high"}])
    with pytest.raises(ValueError, match=r"'x' changes type from float \(line 1\) to str \(line 2\)"):
        load_metrics(tmp_path / "t")
    _write(tmp_path / "l", [{"step": 0, "x": [1, 2]}, {"step": 1, "x": [1, 2, 3]}])
    with pytest.raises(ValueError, match="different lengths"):
        load_metrics(tmp_path / "l")
    with pytest.raises(FileNotFoundError, match="no metrics file"):
        load_metrics(tmp_path / "nowhere")
    assert load_metrics(_write(tmp_path / "e", [])).sizes["step"] == 0


def test_a_real_training_run_loads_as_it_was_logged(tmp_path):
    """The training loop's own file: every logged value comes back at its step."""
    from grokphase.validation.nn import Transformer, TransformerConfig
    from grokphase.validation.optim import AdamW
    from grokphase.validation.tasks import copy_batch
    from grokphase.validation.training import TrainConfig, train

    cfg = TransformerConfig(vocab_size=7, d_model=8, n_layers=1, n_heads=1, d_mlp=16, max_len=5, seed=1)
    model = Transformer(cfg)
    res = train(model, AdamW(model.params, lr=1e-3), lambda step, rng: copy_batch(rng, 4, 5, 7),
                TrainConfig(steps=12, log_every=4, checkpoint_every=6, seed=0), progress=False,
                run_dir=tmp_path, evaluate=lambda m: {"norm": float(sum((v**2).sum() for v in m.params.values()))})
    ds = load_metrics(tmp_path)
    assert ds.step.values.tolist() == [r["step"] for r in res["metrics"]]
    for r in res["metrics"]:
        for k in ("lr", "norm", "time"):
            assert float(ds[k].sel(step=r["step"])) == r[k]
        b = float(ds.batch_loss.sel(step=r["step"]))
        assert (math.isnan(b) and r["batch_loss"] is None and r["step"] == 0) or b == r["batch_loss"]
