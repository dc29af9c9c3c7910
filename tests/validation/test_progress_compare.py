"""Progress-measure comparison on synthetic curves with known answers."""

import numpy as np
import pytest

from grokphase.validation.progress_compare import (compare_run, correlation, half_change_index,
                                                   memorisation_index, turning_index)

STEPS = np.arange(0, 401, 10)


def ramp(t, t0, t1, v0, v1):
    """v0 before t0, v1 after t1, linear in between."""
    return np.interp(t, [t0, t1], [v0, v1])


def test_turning_and_half_change_of_piecewise_linear_curves():
    loss = ramp(STEPS, 100, 300, 1.0, 0.0)             # turning at 0 (first furthest), half at 200
    assert turning_index(loss) == 0 and STEPS[half_change_index(loss)] == 200
    bump = np.where(STEPS <= 100, ramp(STEPS, 0, 100, 0.2, 1.0), ramp(STEPS, 100, 200, 1.0, 0.2))
    assert STEPS[turning_index(bump)] == 100 and STEPS[half_change_index(bump)] == 150
    assert turning_index(np.ones(5)) is None and half_change_index(np.ones(5)) is None


def test_correlation_known_answers(rng):
    y = rng.standard_normal(50)
    assert correlation(3 * y + 1, y) == pytest.approx(1.0, abs=1e-14)
    assert correlation(-y, y) == pytest.approx(-1.0, abs=1e-14)
    assert correlation(np.ones(50), y) is None
    x = y + rng.standard_normal(50)                    # corr = 1/sqrt(2) in expectation
    assert 0.5 < correlation(x, y) < 0.85
    with pytest.raises(ValueError, match="equal lengths"):
        correlation(y, y[:3])


def test_compare_run_lead_times():
    n = STEPS.size
    train_acc = np.where(STEPS >= 50, 1.0, 0.5)
    test_loss = np.exp(ramp(STEPS, 200, 300, 2.0, -4.0))   # log loss: half-way at 250
    med = np.where(STEPS <= 120, ramp(STEPS, 50, 120, 1.0, 3.0), ramp(STEPS, 120, 220, 3.0, 1.0))  # half at 170
    wn = ramp(STEPS, 50, 450, 10.0, 6.0)                  # monotone: half at 250 of its own range
    rows = [dict(step=int(STEPS[i]), train_acc=train_acc[i], test_loss=test_loss[i], med=med[i],
                 weight_norm=wn[i]) for i in range(n)]
    table = {r["measure"]: r for r in compare_run(rows)}
    assert set(table) == {"med", "weight_norm"}        # absent measures are skipped
    assert table["med"]["turning_step"] == 120 and table["med"]["half_step"] == 170
    assert table["med"]["lead_half"] == 80
    assert table["weight_norm"]["half_step"] == 230 and table["weight_norm"]["lead_half"] == 20
    assert table["weight_norm"]["correlation"] > 0.5
    assert memorisation_index(train_acc) == 5
    assert compare_run([dict(step=0, train_acc=0.1, test_loss=1.0)]) == []
