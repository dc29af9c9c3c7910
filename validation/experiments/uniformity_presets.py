"""The named grids of the uniformity experiments (``docs/uniformity_med.md`` §1-§3, §5):
each a :class:`grokphase.sweep.Plan` over a design of
``validation.experiments.uniformity_splits`` (point / point_random) or
``validation.experiments.polygon_sum`` (point).

``run(name)`` sweeps a preset through :func:`grokphase.sweep.run_sweep` (any executor; each point's
scalars are stored in ``<root>/<name>-<plan key>``, and each training run keeps its own resumable
folder ``design.run_root/<config key>`` with metrics.jsonl, checkpoints, config.json and
summary.json).  ``runs_of(name)`` lists the runs of a preset's grid (the figures read their folders).
Steps: the paper's 30k full-batch epochs for the transformer and MLP runs, 10k for the quadratic
network, 20k for the polygon task (measured costs in the docs).
"""

from __future__ import annotations

import dataclasses

from grokphase.sweep import Plan
from grokphase.validation.experiments import polygon_sum as poly
from grokphase.validation.experiments import uniformity_splits as us
from grokphase.validation.experiments.presets import store

__all__ = ["PRESETS", "run", "runs_of"]

_SEEDS = ("seed", (0, 1, 2))
_WD1 = ("weight_decay", (1.0,))
_RANDOM = us.SplitRun(split="random", k=None, offset=0)

PRESETS: dict[str, Plan] = {
    # claim ii and the ceilings: 1-layer transformer, d = 60 strips and d = 0 rectangles
    "uniformity-strip": Plan(us.point, us.SplitRun(split="strip", offset=60),
                             (("k", (40, 50, 60, 67)), _WD1, _SEEDS)),
    "uniformity-rectangle": Plan(us.point, us.SplitRun(split="rectangle", offset=0),
                                 (("k", (40, 50, 60, 67)), _WD1, _SEEDS)),
    # claim i: weight decay and uniformity on the random split
    "uniformity-weight-decay": Plan(us.point_random, _RANDOM,
                                    (("weight_decay", (0.0, 0.1, 1.0)), ("init_noise", (0.0,)), ("seed", (0,)))),
    # claim iv: the MLP variant on the strips (k = 70 as the paper's MLP runs) and the random split,
    # MSE on one-hot targets, frozen one-hot embeddings
    "uniformity-mlp-strip": Plan(us.point, us.SplitRun(model="mlp", split="strip", offset=60),
                                 (("k", (40, 50, 60, 67, 70)), _WD1, ("seed", (0,)))),
    "uniformity-mlp": Plan(us.point_random, dataclasses.replace(_RANDOM, model="mlp"),
                           (_WD1, ("init_noise", (0.0,)), ("seed", (0,)))),
    "uniformity-mse": Plan(us.point_random, dataclasses.replace(_RANDOM, model="mlp", loss="mse"),
                           (_WD1, ("init_noise", (0.0,)), ("seed", (0,)))),
    "uniformity-one-hot": Plan(us.point_random, dataclasses.replace(_RANDOM, model="mlp", one_hot=True),
                               (_WD1, ("init_noise", (0.0,)), ("seed", (0,)))),
    # theory check (quadratic network): a perturbed analytic solution under weight decay, and
    # random init with the full (random split) or a strip-restricted training distribution
    "uniformity-quadratic-perturbed": Plan(us.point_random, dataclasses.replace(
        _RANDOM, model="quadratic", init="analytic", width=27, freqs=(1, 2, 3), amp=1.0, steps=10000),
        (("weight_decay", (0.1, 1.0)), ("init_noise", (0.03, 0.1, 0.3)), ("seed", (0,)))),
    "uniformity-quadratic-random": Plan(us.point_random, dataclasses.replace(
        _RANDOM, model="quadratic", width=512, steps=10000), (_WD1, ("init_noise", (0.0,)), ("seed", (0,)))),
    "uniformity-quadratic-strip": Plan(us.point, us.SplitRun(model="quadratic", width=512, split="strip", offset=0,
                                                             steps=10000), (("k", (40,)), _WD1, ("seed", (0,)))),
    # claim iii beyond transformers: the polygon-sum task
    "polygon-symbolic": Plan(poly.point, poly.PolygonRun(version="symbolic", steps=20000),
                             (("weight_decay", (0.1, 1.0)), ("seed", (0, 1)))),
    "polygon-rendered": Plan(poly.point, poly.PolygonRun(version="rendered", batch_size=200, steps=20000,
                                                         log_every=250),
                             (("weight_decay", (0.1, 1.0)), ("seed", (0,)))),
}


def _check(name: str) -> Plan:
    if name not in PRESETS:
        raise ValueError(f"name must be one of {sorted(PRESETS)}, got {name!r}")
    return PRESETS[name]


def runs_of(name: str, plan: Plan | None = None) -> list:
    """The run configurations (SplitRun / PolygonRun) at the grid points of preset ``name`` (or of
    ``plan``, e.g. the preset with overrides)."""
    p = _check(name) if plan is None else plan
    return [dataclasses.replace(p.design, **values) for values in p.grid]


def run(name: str, root="runs", *, plan: Plan | None = None, executor=None, progress=None, compute: bool = True):
    """Sweep preset ``name`` (or ``plan``) with :func:`grokphase.sweep.run_sweep`; the point store is
    ``<root>/<name>-<plan key>``.  Returns the labelled Dataset over the grid."""
    p = _check(name) if plan is None else plan
    return p.run(store=store(name, p, root), executor=executor, progress=progress, compute=compute)
