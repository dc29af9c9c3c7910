"""The task-diversity transition figure: verdicts and drawing from constructed cells."""

import math

from grokphase.paper_figs import FIGURES, load

ftt = load("fig_icl_task_transition")


def _cell(T, acc_ood, eu):
    est = {"laplace": {"eu": eu, "au": 1.0, "tu": 1.0 + eu, "acc": acc_ood},
           "swag": {"eu": None, "au": None, "tu": None, "acc": None}}       # not applicable (stored JSON)
    sets = {s: {"acc": 0.9 if s == "id_train" else acc_ood, **est} for s in ftt.SPLITS}
    return {"T": T, "alpha": 0.6, "seed": 0, "step": 30000, "sets": sets}


def test_verdict_and_figure(tmp_path):
    assert "fig_icl_task_transition" in FIGURES
    cells = [_cell(40, 0.52, 0.05), _cell(8, 0.15, 0.8), _cell(24, 0.33, 0.3), _cell(16, 0.2, math.nan)]
    v = ftt.verdict(cells)
    assert v["T"] == [8, 16, 24, 40] and v["transition_seen"]
    assert v["claim1"] == {"laplace": "holds"}                   # swag never applies: not an estimator here
    cells[0]["sets"]["ood_train"]["laplace"]["eu"] = 0.9         # EU above a pre-transition value
    assert ftt.verdict(cells)["claim1"]["laplace"] == "fails"
    assert not ftt.verdict([_cell(8, 0.3, 0.1), _cell(40, 0.5, 0.05)])["transition_seen"]
    cells[1]["trajectory"] = {"step": [0, 500, 1000], "id_train_acc": [0.1, 0.8, 1.0], "ood_train_acc": [0.14, 0.5, 0.2],
                              "ood_val_acc": [0.14, 0.15, 0.14]}
    assert ftt.verdict(cells)["ood_train_peak"] == [(0.5, 500), None, None, None]
    paths = ftt.draw({"cells": cells}, tmp_path / "f.png")
    assert [p.suffix for p in paths] == [".png", ".pdf", ".json"] and all(p.stat().st_size > 1000 for p in paths)
