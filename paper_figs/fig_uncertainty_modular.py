"""Figure: epistemic uncertainty through classic grokking (addition mod 97), IVON vs AdamW runs.

Runs: ``grokphase uncertainty train modular --optimizer {adamw,ivon} --seed S`` for
S = 0, 1, 2 (presets ``grok97-adamw`` / ``grok97-ivon`` of ``modular_grokking``: 1 layer, d 128,
train fraction 0.4, 3,500 full-batch steps, parameter snapshots at every logged step).  Posteriors
after the fact (``uncertainty_study``): last-layer Laplace (KFAC) and moving-window SWAG on every
run, IVON's own q on the IVON runs; TU/AU/EU on up to 2,000 test pairs (labels unused) and 1,000
training pairs.  The JSON beside the PNG holds the curves and each run's summary (grokking time,
EU-peak time, EU-collapse factor, label-free detection); without the run folders the script redraws it.
"""

from __future__ import annotations

from grokphase.paper_figs._output import script_main
from grokphase.paper_figs._uncertainty import figure_main


def main(argv=None):
    return figure_main("fig_uncertainty_modular", "modular", __doc__, argv, target="test", logx=False,
                       title="Addition mod 97 (train fraction 0.4): accuracy and uncertainty through grokking "
                             "(solid: test pairs, dashed: training pairs; vertical lines: grokking time = half the test-accuracy gain)")


if __name__ == "__main__":
    script_main(main)
