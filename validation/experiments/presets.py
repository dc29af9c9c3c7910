"""The named plans of the finite-N attention experiments: the configurations that the command line
(``grokphase attention validate NAME``) and the paper figures run, in one place.

Each is a :class:`grokphase.sweep.Plan` (design + point function + grid axes).  Load a variant
from TOML and override single values with :func:`plan`; write one with ``Plan.to_toml``.  Results
are stored under ``<root>/<name>-<key>``, ``key`` identifying the design (so another design never
shares a store, and a rerun of the same design resumes).
"""

from __future__ import annotations

from pathlib import Path

from grokphase.sweep import Plan
from grokphase.validation.experiments import attention_dynamics as dynamics
from grokphase.validation.experiments import attention_equilibrium as equilibrium
from grokphase.validation.experiments import attention_hysteresis as hysteresis
from grokphase.validation.experiments import attention_linear as linear
from grokphase.validation.experiments import attention_map_training as map_training
from grokphase.validation.experiments import attention_onehot_finite_n as onehot
from grokphase.validation.experiments import transformer_copy_langevin as copy_langevin

#: one-hot softmax hysteresis: below, at and above the spinodals 16.37, 19.05 and beta_c = 17.31 (L = 8, V = 4)
_ONEHOT_HYSTERESIS_BETA = (15.0, 16.8, 17.3121, 18.5, 21.0)
_ONEHOT_TF = dict(V=4, L=8, d_model=64, loss="mse", train_mlp=False, prior_std=0.3, record_every=100,
                  lr=3e-3)
_ONEHOT_TF_KIND = {"softmax": dict(sigma2=0.25, eta=4e-5, eta_P0=1024.0),   # SGLD steps that stay stable
                   "linear": dict(sigma2=5.0, eta=8e-5, eta_P0=64.0)}
_ONEHOT_TF_P = {"softmax": (2, 4, 8, 16, 32, 64, 128, 192, 277, 384, 544),   # beta = P / 16: 0.125 .. 34
                "linear": (2, 4, 8, 16, 32, 64, 96, 128, 192, 320)}         # beta = P / 320: 0.00625 .. 1.0

PRESETS: dict[str, Plan] = {
    "hysteresis": Plan(hysteresis.point, hysteresis.Hysteresis(),
                       (("N", (64, 128, 256, 512, 1024)), ("seed", (0,)))),
    "equilibrium": Plan(equilibrium.point, equilibrium.Equilibrium(), (("N", (64, 128, 256, 512)), ("seed", (0,)))),
    "onehot-equilibrium": Plan(equilibrium.point, equilibrium.Equilibrium(V=4, n_iter=1000),
                               (("N", (32, 64, 128, 256)), ("seed", (0, 1, 2)))),
    "linear": Plan(linear.point, linear.LinearFiniteN(),
                   (("N", (64, 128, 64, 128, 256, 1024, 4096)), ("sampler", ("hmc",) * 2 + ("reduced",) * 5),
                    ("seed", (0,))), zipped=("N", "sampler")),
    "dynamics-softmax": Plan(dynamics.point, dynamics.Dynamics(T=20.0, n_rep=3),
                             (("N", (256,)), ("beta", (13.5, 14.0, 14.4, 14.5, 14.75, 15.0, 16.0)), ("seed", (0,)))),
    "dynamics-linear": Plan(dynamics.point, dynamics.Dynamics(kind="linear", sigma2=10.0, T=60.0, n_rep=3,
                                                              beta_unit="beta_c"),
                            (("N", (256,)), ("beta", (1.25, 1.5, 2.0, 3.0)), ("seed", (0,)))),
    "map": Plan(map_training.point, map_training.MapTraining(),
                (("N", (64,)), ("beta", (10.0, 17.0, 20.0, 25.0, 28.0, 31.0, 32.0, 32.5, 33.0, 36.0, 40.0, 45.0)),
                 ("seed", (0,)))),
    # one-hot tokens (docs/attention_onehot.md): softmax branches on both sides of beta_c = 17.31 (spinodals
    # 16.37, 19.05 at L = 8, V = 4) from both starts; linear order parameters around beta_c = 0.2151
    # (whitened count tensor, and P random sequences drawn per point)
    "onehot-hysteresis": Plan(onehot.point, onehot.OneHotFiniteN(),
                              (("N", (64, 128, 256, 512, 1024)), ("beta", _ONEHOT_HYSTERESIS_BETA),
                               ("start", onehot.STARTS), ("seed", (0,)))),
    "onehot-hysteresis-random": Plan(onehot.point, onehot.OneHotFiniteN(whitened=False),
                                     (("N", (64, 128, 256, 512, 1024)), ("beta", _ONEHOT_HYSTERESIS_BETA),
                                      ("start", onehot.STARTS), ("seed", (0,)))),
    "onehot-linear": Plan(onehot.point, onehot.OneHotFiniteN(kind="linear", sigma2=10.0, chains_per=4),
                          (("N", (128, 512, 1024, 2048)), ("beta", (0.1, 0.3, 0.5, 1.0)), ("start", ("copy",)),
                           ("seed", (0,)))),
    "transformer-copy-langevin": Plan(copy_langevin.point, copy_langevin.CopyLangevin(),
                                      (("kind", ("softmax", "linear")), ("P", (1, 2, 3, 4, 5, 6, 8, 12, 16, 32, 64)),
                                       ("start", ("uniform",)), ("seed", (0, 1, 2)))),
    # the transformer on one-hot copy data against docs/attention_onehot.md §8: Gaussian
    # likelihood, MLP held at zero, d = 64, P through beta = P / (d sigma^2) around the model's softmax
    # beta_c = 17.31 and the linear onset 0.2151 / steepest copy rise 0.4013, both starts, SGLD or Adam (MAP)
    **{f"transformer-onehot-{kind}{tag}": Plan(copy_langevin.point, copy_langevin.CopyLangevin(
        **(_ONEHOT_TF | _ONEHOT_TF_KIND[kind] | {"optimizer": opt, "steps": 2000 if opt == "adam" else 4000})),
        (("kind", (kind,)), ("P", _ONEHOT_TF_P[kind]), ("start", copy_langevin.STARTS), ("seed", (0,))))
       for kind in ("softmax", "linear") for opt, tag in (("sgld", ""), ("adam", "-adam"))},
}


def plan(name: str, config=None, overrides=()) -> Plan:
    """The preset ``name``, updated from the TOML file ``config`` (if given), then by the
    ``key=value`` strings ``overrides`` (design fields or grid axes).

    Raises
    ------
    ValueError
        For an unknown name, or a key that is neither a field nor an axis of this plan (the
        message lists the valid ones), or a value of the wrong type.
    """
    if name not in PRESETS:
        raise ValueError(f"name must be one of {sorted(PRESETS)}, got {name!r}")
    p = PRESETS[name]
    if config is not None:
        p = p.from_toml(config)
    return p.with_overrides(overrides)


def store(name: str, p: Plan, root="runs") -> Path:
    """The store folder of plan ``p`` run under the preset ``name``: ``root/<name>-<p.key>``."""
    return Path(root) / f"{name}-{p.key}"


def results(names, runs="runs", *, recompute: bool = False, executor=None, progress=None) -> dict | None:
    """The Datasets of the presets ``names``, from their stores under ``runs``.

    recompute False: read the stores only, None when one of them lacks points (nothing is
    created); True: compute what is missing (on ``executor``, see ``grokphase.sweep.run_sweep``).
    """
    from grokphase.sweep import StoreError

    out = {}
    for name in names:
        p = PRESETS[name]
        try:
            out[name] = p.run(store=store(name, p, runs), compute=recompute, executor=executor, progress=progress)
        except StoreError:
            if recompute:
                raise
            return None
    return out
