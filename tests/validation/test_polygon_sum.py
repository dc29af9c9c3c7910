"""The 4-slot polygon-sum task (symbolic and rendered) and few-step smoke runs of its design."""

import json

import numpy as np
import pytest

from grokphase.validation.experiments.polygon_sum import PolygonRun, build, run_polygon
from grokphase.validation.tasks.polygons import polygon_dataset, render, sides, symbol_image


def test_dataset_labels_and_split():
    ds = polygon_dataset(0.25, seed=0)
    assert len(ds.train_idx) == 3660 and len(ds.test_idx) == 14641 - 3660
    assert not set(ds.train_idx) & set(ds.test_idx)
    assert np.array_equal(ds.labels, sides(ds.combos).sum(1))
    counts = np.bincount(ds.labels, minlength=49)
    assert counts[0] == 1 and counts[1] == counts[2] == 0 and counts[48] == 1 and counts[3] == 4
    assert list(sides([0, 1, 10])) == [0, 3, 12]
    with pytest.raises(ValueError, match="symbols must be ids"):
        sides([11])


def test_rendering_places_each_slot_and_distinguishes_symbols():
    imgs = np.stack([symbol_image(s) for s in range(11)])
    assert imgs[0].sum() == 0
    flat = imgs.reshape(11, -1)
    assert len({row.tobytes() for row in flat}) == 11
    # more sides, more ink (outline + spokes), for the polygons 3..12
    ink = flat.sum(1)[1:]
    assert np.corrcoef(np.arange(10), ink)[0, 1] > 0.8
    combo = np.array([[3, 0, 7, 1]])
    out = render(combo)[0, 0]
    assert out.shape == (32, 32)
    np.testing.assert_array_equal(out[:16, :16], symbol_image(3))
    np.testing.assert_array_equal(out[:16, 16:], 0)
    np.testing.assert_array_equal(out[16:, :16], symbol_image(7))
    np.testing.assert_array_equal(out[16:, 16:], symbol_image(1))


@pytest.mark.parametrize("version", ["symbolic", "rendered"])
def test_smoke_runs_log_the_chain_measures(tmp_path, version):
    run = PolygonRun(version=version, steps=3, log_every=1, batch_size=16, tile=8, channels=(2,), cnn_hidden=8,
                     d_embed=4, hidden=(8,), dtype="float64")
    s = run_polygon(run, tmp_path)
    rows = [json.loads(ln) for ln in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2, 3]
    # step 0: the measures of a freshly built model, recomputed independently
    _, model, inputs = build(run)
    E = model.params["embed"] if version == "symbolic" else model.features(inputs["probe"])
    d = np.linalg.norm(np.diff(E[1:], axis=0), axis=1)
    assert rows[0]["chain_spacing_mean"] == pytest.approx(d.mean(), rel=1e-12)
    assert rows[0]["chain_spacing_spread"] == pytest.approx(d.std() / d.mean(), rel=1e-10)
    assert 0 <= s["final"]["test_acc"] <= 1 and s["steps"] == 3
