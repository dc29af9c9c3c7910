"""The positive-control figure: the verdict rule and the figure from constructed run folders."""

import json

from grokphase.paper_figs import FIGURES, load

fpc = load("fig_icl_positive_control")


def _run(root, seed, steps, ood_final):
    d = root / f"icl_positive_seed{seed}"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"config_hash": f"h{seed}"}))
    rows = []
    for i, step in enumerate(range(0, steps + 1, 5000)):
        f = i / max(1, steps // 5000)
        rows.append({"step": step, "id_train_acc": 0.2 + 0.7 * f, "id_val_acc": 0.3, "ood_train_acc": 0.15 + (ood_final - 0.15) * f,
                     "ood_val_acc": 0.14})
    (d / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def test_verdict_counts_only_finished_seeds_and_needs_two(tmp_path):
    assert "fig_icl_positive_control" in FIGURES
    _run(tmp_path, 0, 45000, 0.51)
    _run(tmp_path, 1, 45000, 0.39)      # below the criterion
    _run(tmp_path, 2, 20000, 0.60)      # unfinished: drawn, not counted
    data = fpc.compute(tmp_path)
    assert data["verdict"] == {"passing_seeds": [0], "n_seeds": 2, "passes": False}
    assert data["final"][0]["ood_train"] == 0.51 and 2 not in data["final"]
    st = data["eval_sets"]["ood_train"]
    assert abs(st["chance"] - 1 / 7) < 1e-12 and st["n_seqs"] == 64 and 0 < st["ratio_ceiling"] <= 1
    paths = fpc.draw(data, tmp_path / "fig.png")
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    assert fpc.verdict({0: 0.51, 1: 0.4, 2: 0.1}) == {"passing_seeds": [0, 1], "n_seeds": 3, "passes": True}
