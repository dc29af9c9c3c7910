"""Figure: epistemic uncertainty through in-context modular arithmetic (p = 7), IVON vs AdamW runs.

Runs: ``grokphase uncertainty train icl --optimizer {adamw,ivon} --seed S`` for S = 0, 1, 2
(presets ``study-p7-adamw`` / ``study-p7-ivon`` of ``icl_training``: p = 7, T = 40 tasks, alpha 0.8,
8 examples, 2 layers, d 64, batch 120 = 3 input sequences x 40 tasks, 15,000 steps, snapshots at every
logged step; the committed JSON is from the earlier layout: batch 128 on one input sequence).  Posteriors
after the fact (``uncertainty_study``): last-layer Laplace (full GGN) and moving-window SWAG on every
run, IVON's own q on the IVON runs; TU/AU/EU at the query on the four splits and on unlabeled
OOD prompts.  The JSON beside the PNG holds the curves and each run's summary; without the run
folders the script redraws it.
"""

from __future__ import annotations

from grokphase.paper_figs._output import script_main
from grokphase.paper_figs._uncertainty import figure_main


def main(argv=None):
    return figure_main("fig_uncertainty_icl", "icl", __doc__, argv, target="ood_val", logx=True,
                       title="In-context modular arithmetic (p = 7, T = 40, alpha 0.8): accuracy and uncertainty at the query "
                             "(solid: OOD-val; vertical lines: grokking time = half the OOD-val accuracy gain)")


if __name__ == "__main__":
    script_main(main)
