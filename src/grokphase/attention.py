"""Bayesian single-layer attention on the cyclic copy task: saddle points, branches, transitions.

Model: ``docs/attention_copy.md`` (the package's exactly solvable model with the phenomenology of
Lavie et al., arXiv 2606.12058).  Large-N theory: the posterior concentrates on the minima of the
reduced free energy f(kappa, g; beta) (§4), with beta = alpha / sigma^2 the amount of data.

Order parameters: kappa (copy logit gap for softmax, copy score for linear), g (value gain),
c = A_{l,l-1} (copy weight; = kappa for linear attention, where A = S), eps (per-position population
MSE), w = g c.  Parameters: L (sequence length, >= 2; real values allowed for phase diagrams),
s_qk = s_q s_k and s_uv = s_u s_v (prior scales, > 0), beta >= 0.

Resolved domain (checked; outside it the branch equations lose their precision, so a call there
raises ValueError naming the parameter rather than returning an unresolved number):
L in [2, 1e10] (``L_MAX``), s_qk and s_uv in [1e-8, 1e8] (``SCALE_RANGE``).  The copy branch of
softmax attention is resolved up to a copy logit kappa = 25 (beta ~ 2.6e21 at L = 8, s_qk = 0.25,
s_uv = 9); a larger beta raises ValueError.  The linear copy branch is resolved for every beta:
beyond its sampled part the minimum lies next to the branch end (g kappa -> 1) and is polished by
Newton from there.

One-hot tokens (``docs/attention_onehot.md``): the keywords ``tokens="onehot"``, ``V`` (vocabulary
size) and ``score_prior`` ('product' or 'gaussian' logits) select that model in ``transition``,
``solve``, ``critical_end_point`` and ``phase_diagram`` (also ``vary="V"``); those functions also take a
``Variant`` object as ``kind``, the one place that dispatches.  The defaults keep Gaussian tokens.

>>> t = transition(L=8, kind='softmax', s_qk=0.25, s_uv=9.0)
>>> t.order, round(t.beta_c, 4), tuple(round(b, 4) for b in t.beta_spinodal)
('first', 12.9682, (12.2611, 14.2626))
>>> round(transition(L=8, kind='linear', s_qk=0.25, s_uv=9.0).beta_c, 6)
0.157135
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from grokphase import _checks as chk
from grokphase.numerics import attention_branches as _br
from grokphase.numerics import attention_map as _map
from grokphase.numerics import attention_phase_diagram as _pd
from grokphase.numerics import attention_saddle as _sd
from grokphase.numerics import attention_transition as _tr
from grokphase.numerics import attention_full as _full
from grokphase.numerics import attention_onehot as _oh
from grokphase.numerics.attention_full import FullSaddleResult
from grokphase.numerics.attention_map import MapState, MapTransition
from grokphase.numerics.attention_phase_diagram import CriticalEndPoint
from grokphase.numerics.attention_transition import BranchState
from grokphase.numerics.attention_transition import TransitionResult as Transition
from grokphase.numerics.attention_onehot import LinearState as OneHotLinearState
from grokphase.numerics.attention_onehot import LinearTransition as OneHotLinearTransition
from grokphase.numerics.attention_onehot import SoftmaxState as OneHotSoftmaxState
from grokphase.numerics.attention_onehot import SoftmaxTransition as OneHotSoftmaxTransition

__all__ = ["Variant", "SaddleResult", "FullSaddleResult", "AnsatzCheck", "Branches", "Transition",
           "CriticalEndPoint", "MapTransition", "MapState", "solve", "solve_full",
           "check_copy_ansatz", "trace", "transition", "critical_end_point", "phase_diagram",
           "map_transition", "map_state", "L_MAX", "SCALE_RANGE", "OneHotSoftmaxState", "OneHotLinearState",
           "OneHotSoftmaxTransition", "OneHotLinearTransition", "TOKENS", "SCORE_PRIORS", "V_RANGE",
           "ONEHOT_L_MAX"]

L_MAX = 1e10
SCALE_RANGE = (1e-8, 1e8)
#: Token models: Gaussian tokens (docs/attention_copy.md) or one-hot tokens (docs/attention_onehot.md).
TOKENS = ("gaussian", "onehot")
#: Score priors: the product Q K^T / N, or Gaussian logits (one-hot tokens only).
SCORE_PRIORS = _oh.PRIORS
#: Resolved vocabulary sizes of the one-hot model (V may be non-integer) and its largest L (the
#: range its large-L laws are checked on).
V_RANGE = (2.0, 1e8)
ONEHOT_L_MAX = 1e6


def _gaussian_kind(kind) -> str:
    """The kind of a facade call implemented for Gaussian tokens only: 'softmax' / 'linear', or a
    ``Variant`` with Gaussian tokens."""
    if isinstance(kind, Variant):
        if kind.onehot:
            raise ValueError(f"kind: this function is implemented for Gaussian tokens; got a Variant with "
                             f"tokens={kind.tokens!r}")
        return kind.kind
    return chk.choice("kind", kind, ("softmax", "linear"))


def _kind(kind) -> int:
    return _sd.KIND_CODES[_gaussian_kind(kind)]


def _scale(name: str, value) -> float:
    return chk.real(name, value, *SCALE_RANGE, note="prior scale; the resolved domain")


def _L(name: str, L) -> float:
    return chk.real(name, L, 2.0, L_MAX, note="sequence length; the resolved domain")


def _check(L, s_qk, s_uv) -> tuple[float, float, float]:
    return _L("L", L), _scale("s_qk", s_qk), _scale("s_uv", s_uv)


def _beta(beta) -> float:
    return chk.nonnegative("beta", beta)


def _newton_settings(tol, max_iter) -> tuple[float, int]:
    return chk.real("tol", tol, 0.0, 1.0, lo_open=True), chk.integer("max_iter", max_iter, 1)


# solve() returns the same stationary-point record that transition() reports for its branches.
SaddleResult = BranchState


def _V(name: str, V) -> float:
    return chk.real(name, V, *V_RANGE, note="vocabulary size, may be non-integer; the resolved domain")


class _GaussianTokens:
    """Gaussian tokens (``docs/attention_copy.md``): the token model behind a ``Variant`` with
    tokens='gaussian'.  Each method takes the variant; a token model holds no state.  Adding a token
    model = one class like this one (and ``_OneHotTokens``) registered in ``_TOKEN_MODELS``, its
    theory module, kernel bundle, numerics and finite-N module."""

    def check(self, v):
        if v.V is not None:
            raise ValueError(f"V: the vocabulary size applies only to tokens='onehot' (leave V=None for "
                             f"Gaussian tokens); got V={v.V!r}")
        if v.score_prior != "product":
            raise ValueError(f"score_prior must be 'product' with tokens='gaussian' (Gaussian logits are "
                             f"implemented for tokens='onehot'); got {v.score_prior!r}")

    def theory(self, v):
        from grokphase.theory import attention_copy as T
        return T

    def free_energy(self, v):
        return self.theory(v).free_energy(v.kind)

    def kernels(self, v):
        from grokphase.numerics import _attention_kernels as K
        return K

    def order_parameters(self, v):
        return ("kappa", "g")

    def finite_n(self, v):
        from grokphase.validation import copy_attention as M
        return M

    def finite_n_model(self, v, L, N, s_qk, s_uv, sigma2):
        s_q, s_u = math.sqrt(chk.positive("s_qk", s_qk)), math.sqrt(chk.positive("s_uv", s_uv))
        return v.finite_n.CopyModel(L=L, N=N, kind=v.kind, s_q=s_q, s_k=s_q, s_u=s_u, s_v=s_u, sigma2=sigma2)

    def finite_n_data(self, v, L, P, rng):
        return v.finite_n.data_statistic(L, P, rng)

    def finite_n_start(self, v, model, n, rng, state):
        return v.finite_n.copy_start(model, n, rng, state.kappa, state.g)

    def copy_profile(self, v, beta, L, s_qk, s_uv):
        return lambda k, g: _sd.free_energy(_sd.SOFTMAX, k, g, beta, float(L), s_qk, s_uv)

    def L(self, v, name, L):
        return _L(name, L)

    def axes(self, v):
        return ("L", "s_qk")

    def transition(self, v, L, s_qk, s_uv):
        return _pd.analyse(v.code, L, s_qk, s_uv)

    def solve(self, v, beta, L, s_qk, s_uv, init, tol, max_iter):
        return _solve_gaussian(v.code, beta, L, s_qk, s_uv, init, tol, max_iter)

    def end_point_axes(self, v):
        return ("L", "s_qk") if v.kind == "softmax" else ()

    def end_point(self, v, s_qk, s_uv, vary, L, bracket, fit_exponents):
        if vary not in self.end_point_axes(v):
            raise ValueError(f"kind: only softmax attention on Gaussian tokens has a critical end point "
                             f"(linear has a tricritical point: s_qk s_uv = (1 + L) / (2 sqrt L)); got "
                             f"{v.kind!r}")
        return _pd.critical_end_point(vary, L, s_qk, s_uv, bracket, fit_exponents)

    def default_bracket(self, v, vary):
        return (2.0, 64.0) if vary == "L" else (1e-2, 10.0)

    def phase_diagram_row(self, v, s_uv):
        return lambda betas, L, s_qk: _pd.gaussian_row(v.code, betas, L, s_qk, s_uv)

    def phase_diagram_fixed(self, v, L, s_qk):
        return dict(s_qk=s_qk, L=L)

    def attrs(self, v):
        return {}                                   # the default model: results keep their earlier attributes

    def task(self, v):
        return "copy task"

    def need_V(self, v, V_varied):
        return None


class _OneHotTokens:
    """i.i.d. one-hot tokens over V symbols (``docs/attention_onehot.md``): the token model behind a
    ``Variant`` with tokens='onehot' (methods as ``_GaussianTokens``)."""

    def check(self, v):
        if v.V is not None:
            object.__setattr__(v, "V", _V("V", v.V))

    def theory(self, v):
        from grokphase.theory import attention_onehot as T
        return T

    def free_energy(self, v):
        return self.theory(v).free_energy(v.kind, v.score_prior)

    def kernels(self, v):
        from grokphase.numerics import _attention_onehot_kernels as K
        return K

    def order_parameters(self, v):
        return ("kappa", "g", "m") if v.kind == "softmax" else ("kappa", "a", "g", "m")

    def finite_n(self, v):
        from grokphase.validation import onehot_attention as M
        return M

    def _integer_V(self, v):
        return chk.integer("V", self.need_V(v, False), 2, note="vocabulary size of the finite-N one-hot model")

    def finite_n_model(self, v, L, N, s_qk, s_uv, sigma2):
        return v.finite_n.OneHotModel.from_products(L, self._integer_V(v), N, kind=v.kind, s_qk=s_qk,
                                                          s_uv=s_uv, sigma2=sigma2)

    def finite_n_data(self, v, L, P, rng):
        return v.finite_n.count_tensor(L, self._integer_V(v), P, rng)

    def finite_n_start(self, v, model, n, rng, state):
        extra = (state.a,) if v.kind == "linear" else ()
        return v.finite_n.ansatz_start(model, n, rng, state.kappa, state.g, state.m, *extra)

    def copy_profile(self, v, beta, L, s_qk, s_uv):
        p, V = _oh.PRIOR_CODES[v.score_prior], float(self.need_V(v, False))
        return lambda k, g: _oh.softmax_f(p, k, g, beta, float(L), V, s_qk, s_uv)

    def L(self, v, name, L):
        return chk.real(name, L, 2.0, ONEHOT_L_MAX, note="sequence length; the resolved domain of one-hot tokens")

    def axes(self, v):
        return ("L", "s_qk", "V")

    def transition(self, v, L, s_qk, s_uv):
        fn = _oh.softmax_transition if v.kind == "softmax" else _oh.linear_transition
        return fn(L, self.need_V(v, False), s_qk, s_uv, v.score_prior)

    def solve(self, v, beta, L, s_qk, s_uv, init, tol, max_iter):
        if not (isinstance(init, str) and init in ("uniform", "copy")):
            raise ValueError(f"init must be 'uniform' or 'copy' with tokens='onehot' (explicit starts are "
                             f"for Gaussian tokens); got {init!r}")
        V = self.need_V(v, False)
        if v.kind == "linear":
            return _oh.linear_state(beta, L, V, s_qk, s_uv, v.score_prior, init, tol, max_iter)
        states = _oh.softmax_stable_states(beta, L, V, s_qk, s_uv, v.score_prior)
        st = states[0] if init == "uniform" else states[-1]
        return replace(st, converged=bool(st.residual <= tol))

    def end_point_axes(self, v):
        return ("L",)

    def end_point(self, v, s_qk, s_uv, vary, L, bracket, fit_exponents):
        if vary not in self.end_point_axes(v):
            raise ValueError(f"vary must be 'L' with tokens='onehot' (the end points L_c(V), L_c2(V)); got {vary!r}")
        return _oh.diagram_end_point(v.kind, self.need_V(v, False), s_qk, s_uv, v.score_prior, bracket,
                                    fit_exponents)

    def default_bracket(self, v, vary):
        return (2.5, 64.0) if v.kind == "softmax" else (8.0, 512.0)

    def phase_diagram_row(self, v, s_uv):
        fn = _oh.softmax_diagram_row if v.kind == "softmax" else _oh.linear_diagram_row
        return lambda betas, L, s_qk, V: fn(betas, L, V, s_qk, s_uv, v.score_prior)

    def phase_diagram_fixed(self, v, L, s_qk):
        return dict(s_qk=s_qk, L=L, V=v.V)

    def attrs(self, v):
        return dict(tokens=v.tokens, score_prior=v.score_prior)

    def task(self, v):
        return "copy task with one-hot tokens"

    def need_V(self, v, V_varied):
        """V, which a one-hot call needs, except as the varied axis of a phase diagram (then None)."""
        if V_varied:
            if v.V is not None:
                raise ValueError(f"V: with vary='V' the V values are the second argument; leave V=None; "
                                 f"got V={v.V!r}")
            return None
        if v.V is None:
            raise ValueError(f"V: tokens='onehot' needs the vocabulary size V, a real in [{V_RANGE[0]:g}, "
                             f"{V_RANGE[1]:g}]; got None")
        return v.V


_TOKEN_MODELS = {"gaussian": _GaussianTokens(), "onehot": _OneHotTokens()}
assert tuple(_TOKEN_MODELS) == TOKENS


@dataclass(frozen=True)
class Variant:
    """One model variant of the attention copy task and what the stack needs of it.

    The facade functions ``transition``, ``solve``, ``critical_end_point`` and ``phase_diagram``
    accept a variant in place of the keyword ``kind`` (then ``tokens``, ``V`` and ``score_prior``
    keep their defaults); the keywords build the same object.  This class is the one place where
    the facade chooses between the solvers.

    Parameters
    ----------
    kind : {'softmax', 'linear'}
        Attention nonlinearity.
    tokens : {'gaussian', 'onehot'}
        Gaussian tokens (``docs/attention_copy.md``) or i.i.d. one-hot tokens
        (``docs/attention_onehot.md``).
    V : float, optional
        Vocabulary size of the one-hot model, in [2, 1e8] (``V_RANGE``; may be non-integer).  None
        for Gaussian tokens; for one-hot tokens None only as the varied axis of
        ``phase_diagram(..., vary="V")``.
    score_prior : {'product', 'gaussian'}
        Prior of the attention scores: the product Q K^T / N, or Gaussian logits (one-hot tokens
        only).

    Attributes
    ----------
    theory : module
        The SymPy derivation (``free_energy`` gives the reduced free energy).
    kernels : module
        The generated Numba kernel bundle of the reduced free energy.
    order_parameters : tuple of str
        The reduced order parameters of the large-N free energy.
    finite_n : module
        The finite-N posterior: ``neg_log_posterior(model, theta, C)`` (energy and gradient),
        ``observables(model, theta)``, ``OBSERVABLE_NAMES``, ``prior_draw``.

    Examples
    --------
    >>> v = Variant("softmax", tokens="onehot", V=4)
    >>> v.order_parameters, round(transition(L=8, kind=v, s_qk=0.25, s_uv=9.0).beta_c, 4)
    (('kappa', 'g', 'm'), 17.3121)
    """

    kind: str = "softmax"
    tokens: str = "gaussian"
    V: float | None = None
    score_prior: str = "product"

    def __post_init__(self):
        chk.choice("kind", self.kind, ("softmax", "linear"))
        chk.choice("tokens", self.tokens, TOKENS)
        chk.choice("score_prior", self.score_prior, SCORE_PRIORS)
        self._model.check(self)

    @property
    def _model(self):
        """The token model (``_TOKEN_MODELS``) that implements this variant's methods."""
        return _TOKEN_MODELS[self.tokens]

    @property
    def onehot(self) -> bool:
        return self.tokens == "onehot"

    @property
    def code(self) -> int:
        """The kind code of the numerics (``attention_saddle.KIND_CODES``)."""
        return _sd.KIND_CODES[self.kind]

    @property
    def theory(self):
        return self._model.theory(self)

    def free_energy(self):
        """The reduced large-N free energy of this variant, a SymPy expression (§4 of either doc)."""
        return self._model.free_energy(self)

    @property
    def kernels(self):
        return self._model.kernels(self)

    @property
    def order_parameters(self) -> tuple[str, ...]:
        return self._model.order_parameters(self)

    @property
    def finite_n(self):
        if self.score_prior != "product":
            raise ValueError(f"score_prior: the finite-N posterior is implemented for the product prior "
                             f"Q K^T / N; got {self.score_prior!r}")
        return self._model.finite_n(self)

    def finite_n_model(self, L: int, N: int, *, s_qk: float = 0.25, s_uv: float = 9.0, sigma2: float = 1.0):
        """The finite-N model (sizes and priors, equal factor scales s_q = s_k = sqrt(s_qk),
        s_u = s_v = sqrt(s_uv)) for ``finite_n``; one-hot tokens need an integer V."""
        return self._model.finite_n_model(self, L, N, s_qk, s_uv, sigma2)

    def finite_n_data(self, L: int, P: int, rng=None):
        """The data statistic of P sequences for ``finite_n.neg_log_posterior``: whitened (rng None)
        or random; C (L, L) for Gaussian tokens, the count tensor (L, L, V, V) for one-hot tokens."""
        return self._model.finite_n_data(self, L, P, rng)

    def finite_n_start(self, model, n: int, rng, state):
        """n chains of ``model`` started on a large-N state (of ``solve`` or ``transition``):
        Gaussian tokens the copy start (``copy_start``: kappa_hat ~ kappa, g), one-hot tokens the
        exact ansatz (``ansatz_start``: kappa, g, m and, for linear attention, a)."""
        return self._model.finite_n_start(self, model, n, rng, state)

    def copy_profile(self, beta: float, L: float, s_qk: float, s_uv: float):
        """f(kappa, g) of softmax attention at beta: the reduced free energy on the copy ansatz
        (Gaussian tokens, §4) or its copy part (one-hot tokens, §5; the mean gain decouples).

        Returns
        -------
        callable
            ``f(kappa, g) -> float``.
        """
        if self.kind != "softmax":
            raise ValueError(f"kind: the copy profile is that of softmax attention; got {self.kind!r}")
        return self._model.copy_profile(self, beta, L, s_qk, s_uv)

    def need_V(self, V_varied: bool = False) -> float | None:
        """V as a call needs it: one-hot tokens need it (ValueError if None), except as the varied
        axis of a phase diagram (``V_varied``: then it must be None); Gaussian tokens: None."""
        return self._model.need_V(self, V_varied)

    def L(self, name: str, L) -> float:
        return self._model.L(self, name, L)

    def axes(self) -> tuple[str, ...]:
        """The parameters a phase diagram may vary."""
        return self._model.axes(self)

    def transition(self, L, s_qk, s_uv):
        return self._model.transition(self, L, s_qk, s_uv)

    def solve(self, beta, L, s_qk, s_uv, init, tol, max_iter):
        return self._model.solve(self, beta, L, s_qk, s_uv, init, tol, max_iter)

    def end_point(self, s_qk, s_uv, vary, L, bracket, fit_exponents):
        return self._model.end_point(self, s_qk, s_uv, vary, L, bracket, fit_exponents)

    def end_point_axes(self) -> tuple[str, ...]:
        """The parameters along which ``end_point`` (``critical_end_point``) finds an end point of a
        first-order line; empty if this variant has none."""
        return self._model.end_point_axes(self)

    def default_bracket(self, vary) -> tuple[float, float]:
        return self._model.default_bracket(self, vary)

    def phase_diagram_row(self, s_uv: float):
        """The row of ``numerics.attention_phase_diagram.compute_phase_diagram`` for this variant:
        ``row(betas, L, s_qk)`` (Gaussian tokens) or ``row(betas, L, s_qk, V)`` (one-hot tokens)."""
        return self._model.phase_diagram_row(self, s_uv)

    def phase_diagram_fixed(self, L: float, s_qk: float) -> dict:
        """The fixed parameters of a phase-diagram row (V: None when it is the varied axis)."""
        return self._model.phase_diagram_fixed(self, L, s_qk)

    @property
    def attrs(self) -> dict:
        """Attributes naming the variant in its results (none for the default Gaussian tokens, as before)."""
        return self._model.attrs(self)

    @property
    def task(self) -> str:
        return self._model.task(self)


def _variant(kind, tokens, V, score_prior, *, V_varied: bool = False) -> Variant:
    """The variant of a facade call: ``kind`` itself if it is a ``Variant`` (then ``tokens``, ``V``
    and ``score_prior`` must keep their defaults), else built from the keywords.  One-hot tokens need
    V, except as the varied axis of a phase diagram (then V must be None)."""
    if isinstance(kind, Variant):
        if (tokens, V, score_prior) != ("gaussian", None, "product"):
            raise ValueError(f"tokens, V, score_prior: give them in the Variant passed as kind, not as keywords; "
                             f"got tokens={tokens!r}, V={V!r}, score_prior={score_prior!r}")
        v = kind
    else:
        v = Variant(chk.choice("kind", kind, ("softmax", "linear")), tokens, V, score_prior)
    v.need_V(V_varied)
    return v


@lru_cache(maxsize=64)
def _minima_curve(kind: int, L: float, s_qk: float, s_uv: float):
    """The branch sampled on a kappa grid (dense at small kappa), for locating the stable stationary
    points at any beta: (kappa, g, beta) arrays."""
    k_hi = _tr.kappa_range(kind, L, s_qk, s_uv)
    ks = k_hi * np.linspace(0.0, 1.0, 3201)[1:] ** 2
    g, b, *_ = _sd.stationary_curve(kind, ks, L, s_qk, s_uv)
    return ks, g, b


def _branch_starts(kind: int, beta: float, L: float, s_qk: float, s_uv: float):
    """(kappa, g) of the stable stationary points at beta on the non-trivial branch, by kappa."""
    ks, g, b = _minima_curve(kind, L, s_qk, s_uv)
    ok = np.isfinite(b)
    ks, g, b = ks[ok], g[ok], b[ok]
    if beta > b[-1]:
        if kind == _sd.LINEAR:
            # beta(kappa) rises to infinity at the branch end kappa_end, g = 1/kappa_end; near it
            # L h'(kappa) = beta L g (1 - g kappa) gives 1 - g kappa ~ kappa_end h'(kappa_end) / beta
            k_end = _tr.linear_branch_end(L, s_qk, s_uv)
            h1 = _sd.gradient(kind, k_end, 1.0 / k_end, 0.0, L, s_qk, s_uv)[0] / L
            return [(k_end, (1.0 - k_end * h1 / beta) / k_end)]
        raise ValueError(f"beta = {beta:g} is beyond the resolved copy branch of softmax attention (beta <= "
                         f"{b[-1]:.4g} here: copy logit kappa <= {ks[-1]:.4g})")
    d = b - beta
    idx = np.flatnonzero((d[:-1] <= 0) & (d[1:] > 0))  # beta increasing through the target: stable
    out = []
    for i in idx:
        k = _tr.kappa_at_beta(kind, beta, ks[i], ks[i + 1], L, s_qk, s_uv)
        out.append((k, _sd.branch_point_at_kappa(kind, k, L, s_qk, s_uv)[0]))
    if kind == _sd.SOFTMAX and beta < b[0]:
        out.insert(0, (ks[0], g[0]))
    return out


def solve(beta, *, L, kind="softmax", s_qk, s_uv, init="uniform", tol=1e-12, max_iter=100, tokens="gaussian",
          V=None, score_prior="product") -> SaddleResult:
    """Solve the saddle-point equations grad f = 0 at beta by Newton (line search, trust radius,
    steepest-descent fallback).

    Minima are located on the exact parametric branch (``attention_saddle.branch_point_at_kappa``)
    and polished by Newton.

    Parameters
    ----------
    beta : float
        Amount of data alpha / sigma^2, >= 0.
    L : float
        Sequence length in [2, 1e10] (``L_MAX``).
    kind : {'softmax', 'linear'} or Variant
        Attention nonlinearity, or a whole ``Variant`` (then leave tokens, V, score_prior at their
        defaults).
    s_qk, s_uv : float
        Prior scales s_q s_k and s_u s_v, > 0.
    init : {'uniform', 'copy'} or (float, float)
        'uniform': softmax, the minimum with the smallest kappa; linear, kappa = g = 0 (exact).
        'copy': the minimum with the largest kappa (the copy branch where it exists, otherwise the
        unique minimum).  An explicit (kappa, g) start: Newton converges to the nearest stationary
        point, possibly unstable (check ``stable``).
    tol : float
        Newton tolerance on max |grad f| / (1 + beta L).
    max_iter : int
        Newton iterations.
    tokens : {'gaussian', 'onehot'}
        The token model: Gaussian tokens (``docs/attention_copy.md``) or one-hot tokens
        (``docs/attention_onehot.md``; then ``V`` is required and ``init`` is 'uniform' or 'copy').
    V : float, optional
        Vocabulary size of the one-hot model, in [2, 1e8] (``V_RANGE``; may be non-integer); only with
        tokens='onehot'.  L is then limited to [2, 1e6] (``ONEHOT_L_MAX``).
    score_prior : {'product', 'gaussian'}
        Prior of the attention scores: the product Q K^T / N, or Gaussian logits (tokens='onehot' only).

    Returns
    -------
    SaddleResult
        beta, kappa, g, c, eps, w = g c, free_energy, min_hessian_eig (``stable`` if > 0),
        converged, residual, iterations.
    OneHotSoftmaxState
        tokens='onehot', softmax (§5 of docs/attention_onehot.md): the same fields (``w`` and
        ``stable`` as properties) plus the mean gain ``m`` and the ``stiffness`` phi''(kappa); the
        state is located by root bracketing on the stationary curve (``iterations`` = 0) and
        ``converged`` means residual <= ``tol``.  'uniform' / 'copy': the minimum with the smallest
        / largest kappa.
    OneHotLinearState
        tokens='onehot', linear (§6): kappa, the mean-channel score ``a``, g, the mean gain ``m``, the
        order parameters ``w_c = g kappa`` (copy), ``w_a = g a`` and ``w_m = a m`` (mean channel), eps,
        free_energy, min_hessian_eig, converged, residual, iterations (Newton at fixed beta).
        'uniform': the symmetric point; 'copy': the ordered minimum with the largest g (the
        symmetric point below the onset).

    Examples
    --------
    >>> r = solve(13.0, L=8, s_qk=0.25, s_uv=9.0, init="copy")   # between the spinodals
    >>> round(r.c, 4), round(r.g, 4), r.stable, r.converged
    (0.3123, 1.8904, True, True)
    >>> round(solve(13.0, L=8, s_qk=0.25, s_uv=9.0).c, 4)          # the uniform branch, c ~ 1/L
    0.1461
    >>> r = solve(17.3121, L=8, s_qk=0.25, s_uv=9.0, init="copy", tokens="onehot", V=4)
    >>> round(r.kappa, 4), round(r.c, 4), round(r.g, 4), r.converged      # one-hot copy branch at beta_c
    (1.1529, 0.3115, 1.8868, True)
    """
    v = _variant(kind, tokens, V, score_prior)
    L, s_qk, s_uv = v.L("L", L), _scale("s_qk", s_qk), _scale("s_uv", s_uv)
    beta = _beta(beta)
    tol, max_iter = _newton_settings(tol, max_iter)
    return v.solve(beta, L, s_qk, s_uv, init, tol, max_iter)


def _solve_gaussian(k: int, beta, L, s_qk, s_uv, init, tol, max_iter) -> SaddleResult:
    """``solve`` for Gaussian tokens (validated arguments)."""
    if isinstance(init, str):
        if init not in ("uniform", "copy"):
            raise ValueError(f"init must be 'uniform', 'copy' or a finite (kappa, g); got {init!r}")
        if k == _sd.LINEAR and init == "uniform":
            start = (0.0, 0.0)
        else:
            starts = _branch_starts(k, beta, L, s_qk, s_uv)
            if not starts:  # linear below the copy branch: the trivial point is the minimum
                start = (0.0, 0.0)
            else:
                start = starts[0] if init == "uniform" else starts[-1]
    else:
        start = tuple(chk.array("init", init, shape=(2,)))
    return _tr.state_at(k, beta, start[0], start[1], L, s_qk, s_uv, tol=tol, max_iter=max_iter)


def _ansatz_scores(kind: str, kappa: float, L: int) -> np.ndarray:
    Pi = np.roll(np.eye(L), -1, axis=1)  # Pi[l, l-1] = 1
    return kappa * (Pi - 1.0 / L) if kind == "softmax" else kappa * Pi


def solve_full(beta, *, L, kind="softmax", s_qk, s_uv, init="uniform", tol=1e-9,
               max_iter=5000) -> FullSaddleResult:
    """Minimise the full free energy F(S, g) over all L^2 + 1 order parameters (§3, §5.5;
    BFGS with a strong-Wolfe line search, then Newton with a finite-difference Hessian).

    Parameters
    ----------
    beta : float
        Amount of data alpha / sigma^2, >= 0.
    L : int
        Sequence length, >= 2 (an integer: S is an L x L matrix).
    kind : {'softmax', 'linear'} or Variant
        A ``Variant`` with Gaussian tokens also works.
    s_qk, s_uv : float
        Prior scales in [1e-8, 1e8] (``SCALE_RANGE``).
    init : {'uniform', 'copy'} or (ndarray, float)
        Start on the corresponding reduced minimum (``solve``) written as an L x L score matrix, or
        an explicit (S0, g0) with S0 of shape (L, L).
    tol : float
        Tolerance on the max-abs gradient.
    max_iter : int
        BFGS iterations.

    Returns
    -------
    FullSaddleResult
        S (L, L), g, free_energy, c, eps, row_spread (0 if the rows are translation invariant),
        converged, residual, iterations, min_hessian_eig.

    Examples
    --------
    >>> r = solve_full(13.0, L=8, s_qk=0.25, s_uv=9.0, init="copy")
    >>> r.S.shape, round(r.c, 4), r.converged, r.row_spread < 1e-8      # the copy ansatz, unrestricted
    ((8, 8), 0.3123, True, True)
    """
    kind = _gaussian_kind(kind)
    L = chk.integer("L", L, 2, int(L_MAX), note="sequence length; the full problem has L^2 + 1 unknowns")
    _check(L, s_qk, s_uv)
    beta = _beta(beta)
    tol, max_iter = _newton_settings(tol, max_iter)
    if isinstance(init, str):
        r = solve(beta, L=L, kind=kind, s_qk=s_qk, s_uv=s_uv, init=init)
        S0, g0 = _ansatz_scores(kind, r.kappa, L), r.g
    else:
        if not (isinstance(init, (tuple, list)) and len(init) == 2):
            raise ValueError(f"init must be 'uniform', 'copy' or a pair (S0 of shape (L, L), g0); got {init!r}")
        S0 = chk.array("init S0", init[0], shape=(L, L))
        g0 = chk.real("init g0", init[1])
    return _full.minimize_full(beta, L=L, kind=kind, s_qk=s_qk, s_uv=s_uv, S0=S0, g0=g0, tol=tol,
                               max_iter=max_iter)


@dataclass(frozen=True)
class AnsatzCheck:
    """Outcome of ``check_copy_ansatz``: every local minimum of the full problem found from the
    uniform, copy and random starts, compared with the reduced minima at the same beta.

    max_free_energy_gap: max over converged full minima of min over reduced minima |F - f| (inf
    when no start converged to a minimum);
    max_row_spread: max deviation from translation invariance of the attention rows (inf likewise);
    n_converged / n_starts; all_on_ansatz: every converged minimum matched a reduced one (gap and
    spread below ``tol``)."""

    beta: float
    n_starts: int
    n_converged: int
    max_free_energy_gap: float
    max_row_spread: float
    all_on_ansatz: bool


def check_copy_ansatz(beta, *, L, kind="softmax", s_qk, s_uv, n_random=6, seed=0,
                      tol=1e-6) -> AnsatzCheck:
    """The check of §5.5: minimise F(S, g) from the uniform start, the copy start and ``n_random`` random
    starts (S ~ N(0, 1), g ~ U(0, 2), seeded) and check every minimum is one of the reduced
    (copy-ansatz) minima.

    Parameters
    ----------
    beta : float
        Amount of data, >= 0.
    L : int
        Sequence length, an integer >= 2.
    kind : {'softmax', 'linear'} or Variant
        A ``Variant`` with Gaussian tokens also works.
    s_qk, s_uv : float
        Prior scales in [1e-8, 1e8] (``SCALE_RANGE``).
    n_random : int
        Random starts besides the uniform and copy ones.
    seed : int
        Seed of the random starts.
    tol : float
        Largest free-energy gap and row spread that count as "on the ansatz".

    Returns
    -------
    AnsatzCheck

    Examples
    --------
    >>> check_copy_ansatz(13.0, L=4, s_qk=0.25, s_uv=9.0, n_random=2).all_on_ansatz
    True
    """
    kind = _gaussian_kind(kind)
    L = chk.integer("L", L, 2, int(L_MAX), note="sequence length")
    n_random = chk.integer("n_random", n_random, 0)
    seed = chk.seed("seed", seed)
    tol = chk.positive("tol", tol)
    reduced = {solve(beta, L=L, kind=kind, s_qk=s_qk, s_uv=s_uv, init=i).free_energy
               for i in ("uniform", "copy")}
    rng = np.random.default_rng(seed)
    starts = ["uniform", "copy"] + [(rng.standard_normal((L, L)), rng.uniform(0.0, 2.0))
                                    for _ in range(n_random)]
    gaps, spreads, n_conv = [], [], 0
    for st in starts:
        r = solve_full(beta, L=L, kind=kind, s_qk=s_qk, s_uv=s_uv, init=st)
        if not (r.converged and r.min_hessian_eig > 0):
            continue
        n_conv += 1
        gaps.append(min(abs(r.free_energy - f) for f in reduced))
        spreads.append(r.row_spread)
    gap = max(gaps, default=math.inf)
    spread = max(spreads, default=math.inf)
    return AnsatzCheck(beta=float(beta), n_starts=len(starts), n_converged=n_conv,
                       max_free_energy_gap=gap, max_row_spread=spread,
                       all_on_ansatz=bool(n_conv > 0 and gap < tol and spread < tol))


@dataclass(frozen=True)
class Branches:
    """Branches of stationary points at each requested beta (arrays of shape (len(betas),), nan
    where a branch does not exist), and the traced curve itself.

    branches: dict name -> dict of arrays (kappa, g, c, eps, w, free_energy, min_hessian_eig,
    residual).  Softmax names: 'uniform', 'unstable', 'copy' (first order) or 'crossover'.  Linear:
    'trivial' (kappa = g = 0), 'copy' (stable non-trivial), 'unstable' (subcritical part, if any).
    curve: dict of arrays along arclength (kappa, g, beta, min_hessian_eig).
    converged: every reported point passed the Newton tolerance (residual <= 1e-10)."""

    kind: str
    betas: np.ndarray
    branches: dict
    curve: dict
    converged: bool


def trace(betas, *, L, kind="softmax", s_qk, s_uv) -> Branches:
    """Follow the stationary curve by pseudo-arclength continuation in beta (through the folds)
    and report every branch at each beta.

    Parameters
    ----------
    betas : array-like, shape (nb,)
        Finite values >= 0.
    L : float
        Sequence length in [2, 1e10] (``L_MAX``).
    kind : {'softmax', 'linear'} or Variant
        A ``Variant`` with Gaussian tokens also works.
    s_qk, s_uv : float
        Prior scales in [1e-8, 1e8] (``SCALE_RANGE``).

    Returns
    -------
    Branches
        Per branch name a dict of arrays of shape (nb,) (nan where the branch does not exist at that
        beta), and the traced curve.

    Examples
    --------
    >>> b = trace([12.0, 13.0, 15.0], L=8, s_qk=0.25, s_uv=9.0)
    >>> sorted(b.branches), np.round(b.branches["copy"]["c"], 4).tolist(), b.converged
    (['copy', 'uniform', 'unstable'], [nan, 0.3123, 0.3617], True)
    """
    kind = _gaussian_kind(kind)
    k = _sd.KIND_CODES[kind]
    L, s_qk, s_uv = _check(L, s_qk, s_uv)
    betas = np.atleast_1d(chk.array("betas", betas, ndim=(0, 1), lo=0.0))
    t = _tr.analyse_softmax(L, s_qk, s_uv) if k == _sd.SOFTMAX else _tr.analyse_linear(L, s_qk, s_uv)
    top = t.beta_spinodal[1] if t.beta_spinodal else t.beta_c
    curve = _br.trace_curve(k, L, s_qk, s_uv, max(float(betas.max()), top) * 1.05, float(betas.min()))
    names = _br.COLUMNS[:-1]
    out = {}
    for piece in curve.pieces:
        pts = _br.points_on_piece(curve, piece, k, betas, L, s_qk, s_uv)
        out[piece] = {n: pts[:, i] for i, n in enumerate(names)}
    if k == _sd.LINEAR:
        pts = _br.trivial_points(betas, L, s_qk, s_uv)
        out["trivial"] = {n: pts[:, i] for i, n in enumerate(names)}
    res = np.concatenate([b["residual"] for b in out.values()])
    return Branches(kind=kind, betas=betas, branches=out,
                    curve=dict(kappa=curve.kappa, g=curve.g, beta=curve.beta,
                               min_hessian_eig=curve.min_hessian_eig),
                    converged=bool(np.all(res[np.isfinite(res)] <= 1e-10)))


def transition(*, L, kind="softmax", s_qk, s_uv, tokens="gaussian", V=None, score_prior="product") -> Transition:
    """Classify the transition and locate it.

    Parameters
    ----------
    L : float
        Sequence length in [2, 1e10] (``L_MAX``; [2, 1e6] for one-hot tokens).
    kind : {'softmax', 'linear'} or Variant
        Attention nonlinearity, or a whole ``Variant`` (then leave tokens, V, score_prior at their
        defaults).
    s_qk, s_uv : float
        Prior scales in [1e-8, 1e8] (``SCALE_RANGE``).
    tokens, V, score_prior
        The token model, as in ``solve``.

    Returns
    -------
    Transition
        order ('first', 'second', 'crossover', 'tricritical' or 'critical'), beta_c, beta_spinodal,
        jump, exponent, the branch states at beta_c, barrier, B2 (linear), converged.
    OneHotSoftmaxTransition
        tokens='onehot', softmax: order ('first' or 'crossover'), beta_c, beta_spinodal, ``jump``
        (dc, dg, deps), the states ``uniform``, ``copy``, ``unstable`` at beta_c (one-hot states),
        barrier, min_slope, kappa_min_slope, converged; extra: ``precursor`` (L c and the stiffness on
        the uniform branch at beta_c / 2 and beta_c), V, prior.
    OneHotLinearTransition
        tokens='onehot', linear: ``order`` (= primary_order, 'second' or 'first'), beta_c (the
        closed-form pitchfork, where the symmetric point loses stability), s_tc, onset_channel
        ('mean' or 'copy'), ``beta_onset`` (beta_c, or beta_c1 for a first-order onset, with its fold
        beta_spinodal1 and ``ordered`` state); then ``secondary``: 'crossover' (beta_steepest,
        w_c_steepest, max_slope of dw_c / d ln beta) or 'jump' (beta_c2, beta_spinodal2, the states
        ``low``/``high`` at beta_c2, jump_w_c), min_D, n_points, converged.

    Examples
    --------
    >>> t = transition(L=8, s_qk=0.25, s_uv=9.0)
    >>> t.order, round(t.beta_c, 4), t.converged
    ('first', 12.9682, True)
    >>> t = transition(L=8, s_qk=0.25, s_uv=9.0, tokens="onehot", V=4)
    >>> t.order, round(t.beta_c, 4), tuple(round(b, 4) for b in t.beta_spinodal)
    ('first', 17.3121, (16.3651, 19.0466))
    """
    v = _variant(kind, tokens, V, score_prior)
    return v.transition(v.L("L", L), _scale("s_qk", s_qk), _scale("s_uv", s_uv))


def critical_end_point(*, kind="softmax", s_qk, s_uv, vary="L", L=8.0, bracket=None,
                       fit_exponents=True, tokens="gaussian", V=None, score_prior="product") -> CriticalEndPoint:
    """Critical end point of the softmax first-order line, varying L or s_qk at fixed L; for one-hot
    tokens also the end point L_c2(V) of linear attention's secondary jump.

    Parameters
    ----------
    kind : {'softmax', 'linear'} or Variant
        Softmax: the end point of the first-order line.  Linear: only with tokens='onehot' (L_c2, the
        sequence length above which w_c jumps inside the ordered phase); on Gaussian tokens linear
        attention has a tricritical point instead (ValueError).  A ``Variant`` works too (then leave
        tokens, V, score_prior at their defaults).
    s_qk, s_uv : float
        Prior scales, > 0 (s_qk is the varied one when vary='s_qk').
    vary : {'L', 's_qk'}
        One-hot tokens: 'L' only.
    L : float
        The fixed L when vary='s_qk'.
    bracket : (float, float), optional
        Search interval of the varied parameter (default (2, 64) for L, (1e-2, 10) for s_qk; one-hot
        tokens: (2.5, 64) softmax, (8, 512) linear).
    fit_exponents : bool
        Also fit the jump and spinodal-width exponents (mean field: 1/2 and 3/2).
    tokens, V, score_prior
        The token model, as in ``solve``.

    Returns
    -------
    CriticalEndPoint
        x_c, beta_star, kappa_star, the exponents (nan if not fitted), converged, iterations,
        residual.  Unpacks as (x_c, beta_star).  One-hot linear: x_c = L_c2, beta_star the beta where
        the secondary folds merge, kappa_star the copy score there; the exponents are those of the
        secondary jump of w_c and of the secondary spinodal width.

    Examples
    --------
    >>> L_c, beta_star = critical_end_point(s_qk=0.25, s_uv=9.0, fit_exponents=False)
    >>> round(L_c, 3), round(beta_star, 3)
    (5.455, 10.847)
    >>> round(critical_end_point(s_qk=0.25, s_uv=9.0, fit_exponents=False, tokens="onehot", V=4).x_c, 4)
    5.4475
    """
    v = _variant(kind, tokens, V, score_prior)
    chk.choice("vary", vary, ("L", "s_qk"))
    L, s_qk, s_uv = _check(L, s_qk, s_uv)
    fit_exponents = chk.flag("fit_exponents", fit_exponents)
    if bracket is None:
        bracket = v.default_bracket(vary)
    lo, hi = chk.array("bracket", bracket, shape=(2,))
    (v.L if vary == "L" else _scale)(f"bracket[0] ({vary})", lo)
    (v.L if vary == "L" else _scale)(f"bracket[1] ({vary})", hi)
    if not lo < hi:
        raise ValueError(f"bracket must be (lo, hi) with lo < hi; got {tuple(bracket)!r}")
    return v.end_point(s_qk, s_uv, vary, L, (float(lo), float(hi)), fit_exponents)


def phase_diagram(betas, Ls, *, kind="softmax", s_qk, s_uv, vary="L", L=8.0, tokens="gaussian", V=None,
                  score_prior="product") -> "xarray.Dataset":
    """Order parameters on the (L, beta) grid (or (s_qk, beta) with vary='s_qk' and ``Ls`` the
    s_qk values; for one-hot tokens also (V, beta) with vary='V' and ``Ls`` the V values) and the
    transition lines, as a labelled Dataset.

    Parameters
    ----------
    betas : array-like, shape (nb,)
        Finite values >= 0.
    Ls : array-like, shape (nx,)
        Values of the varied parameter: L >= 2 (vary='L'), s_qk > 0 (vary='s_qk') or V in [2, 1e8]
        (vary='V', one-hot tokens).
    kind : {'softmax', 'linear'} or Variant
        Attention nonlinearity, or a whole ``Variant`` (then leave tokens, V, score_prior at their
        defaults).
    s_qk, s_uv : float
        Prior scales (> 0); s_qk is ignored as a fixed value when vary='s_qk'.
    vary : {'L', 's_qk', 'V'}
    L : float
        The fixed L when vary='s_qk' or 'V'.
    tokens, V, score_prior
        The token model, as in ``solve``; V is the fixed vocabulary size (leave it None with vary='V').

    Returns
    -------
    xarray.Dataset
        Dimensions (``vary``, ``beta``); per ``vary`` value the ``order`` (CF flag variable: decode
        with ``grokphase.results.flag_labels``), ``beta_c`` and the spinodals ``beta_sp_lo/hi``; on
        the grid the equilibrium ``kappa, g, c, eps, w, free_energy, min_hessian_eig, residual``,
        its ``branch`` (flag) and ``c_metastable``.  Attributes: ``kind``, ``varied``, the fixed
        parameters (typed), ``residual_tol`` and ``converged``.  Save with
        ``grokphase.results.save_dataset`` (netCDF).  One-hot tokens: the same variables from the
        one-hot solver ('first' order between the spinodals: branch 'uniform' below beta_c, 'copy'
        above, the other minimum in ``c_metastable``; beyond the end point order 'crossover' and
        branch 'crossover'), and the attributes ``tokens='onehot'``, ``score_prior`` and the fixed
        ``V`` (or ``L`` and ``s_qk`` with vary='V').  One-hot linear attention: ``order`` is the
        primary onset ('second', or 'first' with beta_c = beta_c1 and spinodals (beta_spinodal1,
        pitchfork)), branch 'trivial' below beta_c and 'copy' above, c = A_{l,l-1} =
        kappa (1 - 1/L) + a/L and w = g c; extra grid variables ``a, m, w_c, w_a, w_m,
        w_c_metastable`` and per x ``secondary`` (flag: 'crossover', 'jump', 'not_analysed'),
        ``beta_c2``, ``beta_sp2_lo/hi`` (the secondary jump; the equilibrium w_c jumps at beta_c2)
        and ``beta_steepest``.

    Examples
    --------
    >>> pd = phase_diagram(np.linspace(1, 30, 25), [4, 8, 12], s_qk=0.25, s_uv=9.0)
    >>> round(float(pd.c.sel(L=8, beta=13, method="nearest")), 4), pd.converged   # copy branch (1/L uniform)
    (0.3153, True)
    >>> pv = phase_diagram([10.0, 20.0], [2, 4, 16], vary="V", s_qk=0.25, s_uv=9.0, tokens="onehot")
    >>> pv.c.dims, np.round(pv.beta_c.values, 4).tolist()
    (('V', 'beta'), [25.9364, 17.3121, 13.9501])
    """
    v = _variant(kind, tokens, V, score_prior, V_varied=vary == "V")
    chk.choice("vary", vary, v.axes())
    L, s_qk, s_uv = v.L("L", L), _scale("s_qk", s_qk), _scale("s_uv", s_uv)
    betas = chk.array("betas", betas, ndim=1, lo=0.0)
    xs = chk.array("Ls", Ls, ndim=1)
    check = {"L": v.L, "s_qk": _scale, "V": _V}[vary]
    for i, x in enumerate(xs):
        check(f"Ls[{i}] ({vary})", x)
    return _pd.compute_phase_diagram(v.code, betas, xs, axis=vary, row=v.phase_diagram_row(s_uv),
                                     fixed=v.phase_diagram_fixed(L, s_qk), s_uv=s_uv, model_attrs=v.attrs,
                                     task=v.task)


def map_state(beta, *, L, kind="softmax", s_qk, s_uv) -> MapState:
    """The MAP copy state (best point with kappa > 0) at beta.

    Parameters
    ----------
    beta : float
        Amount of data, >= 0.
    L : float
        Sequence length in [2, 1e10] (``L_MAX``).
    kind : {'softmax', 'linear'} or Variant
        A ``Variant`` with Gaussian tokens also works.
    s_qk, s_uv : float
        Prior scales in [1e-8, 1e8] (``SCALE_RANGE``).

    Returns
    -------
    MapState
        kappa, g, c, w = g c (as in ``solve``), its MAP ``objective`` and that of the uniform /
        trivial point (``objective_uniform``; ``copy_is_global`` compares them), ``converged``.

    Examples
    --------
    >>> m = map_state(40.0, L=8, s_qk=0.25, s_uv=9.0)
    >>> round(m.c, 4), m.copy_is_global, m.converged
    (0.536, True, True)
    """
    k = _kind(kind)
    L, s_qk, s_uv = _check(L, s_qk, s_uv)
    return _map.map_copy_minimum(k, _beta(beta), L, s_qk, s_uv)


def map_transition(*, L, kind="softmax", s_qk, s_uv) -> MapTransition:
    """MAP (weight decay = prior) thresholds, §9: local instability of the uniform point and
    the global switch to copying.

    Parameters
    ----------
    L : float
        Sequence length in [2, 1e10] (``L_MAX``).
    kind : {'softmax', 'linear'} or Variant
        A ``Variant`` with Gaussian tokens also works.
    s_qk, s_uv : float
        Prior scales in [1e-8, 1e8] (``SCALE_RANGE``).

    Returns
    -------
    MapTransition
        beta_local (inf for linear attention), beta_switch and the copy state there, converged,
        iterations, residual.

    Examples
    --------
    >>> m = map_transition(L=8, s_qk=0.25, s_uv=9.0)
    >>> round(m.beta_local, 4), round(m.beta_switch, 4), m.converged   # both above the Bayesian beta_c
    (32.1111, 17.0424, True)
    """
    k = _kind(kind)
    L, s_qk, s_uv = _check(L, s_qk, s_uv)
    return _map.map_transition(k, L, s_qk, s_uv)
