"""Slow: the finite-size twin approaches the MP curves at the rate O(1/d) (run with -m slow)."""

import numpy as np
import pytest

from grokphase import LinearVIModel
from grokphase.testing import assert_power_law
from grokphase.validation.linear_vi_twin import sample_data, vi_flow_twin

NBAR = 5e7


@pytest.mark.slow
def test_rms_deviation_from_mp_scales_as_inverse_d():
    """rms over seeds of (twin/MP - 1) at x = 3 for d = 250 .. 2000: log-log slope -1 +- 0.3.

    With even gaps the normalised twin risk is a linear spectral statistic; its bias and its
    standard deviation are both O(1/d) (Bai-Silverstein), so the rms is C/d.  A slope near -1/2
    would mean the MP curves are not the right limit (or the gaps are sampled, not even).
    """
    lam, x, seeds = 0.5, 3.0, 8
    ds, rms = [], []
    for n in (500, 1000, 2000, 4000):
        d = int(lam * n)
        ref = LinearVIModel(lam, NBAR, C0=1.0).excess_risk(x / (2 * NBAR))[1]
        dev = [vi_flow_twin(sample_data(n, d, seed=s), sigma2=n / NBAR, gap=1.0, cov_gap=1.0)
               .excess_risks([x / (2 * NBAR)])[1][0] / ref - 1 for s in range(seeds)]
        ds.append(d)
        rms.append(np.sqrt(np.mean(np.square(dev))))
    assert_power_law(ds, rms, -1.0, atol=0.3, local=False)   # least-squares log-log slope (noisy rms)
