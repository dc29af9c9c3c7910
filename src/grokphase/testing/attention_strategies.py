"""Hypothesis strategies for Bayesian single-layer attention on the copy task (``grokphase.attention``).

Model and symbols: ``docs/attention_copy.md``.  A parameter point is (kind, L, s_qk, s_uv); the
amount of data is beta = alpha / sigma^2 >= 0.  Every field can be overridden by a strategy or a
fixed value (None keeps the default).  Default ranges: L integer in [2, 32] (real L >= 2 is
allowed: pass ``L=st.floats(2, 64)``), s_qk log-uniform in [0.01, 5], s_uv log-uniform in
[0.1, 100]; over these ranges ``grokphase.attention.transition`` converges (tests/ check it).

Landmarks in beta (``AttentionPoint.anchor``): beta_c (the transition: Maxwell point, pitchfork,
or steepest point of a crossover), the spinodals beta_sp^- < beta_c < beta_sp^+ of a first-order
transition (where the copy branch appears / the uniform branch stops being a minimum), and the
window between them.  Near-critical regions: just above the softmax critical end point L_c(s_qk,
s_uv) (``near_end_point``) and around the linear tricritical point s_qk s_uv = (1 + L)/(2 sqrt L)
(``near_tricritical``).
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import assume
from hypothesis import strategies as st

from grokphase.testing._fields import field, log_uniform

__all__ = ["AttentionParams", "AttentionPoint", "attention_kinds", "sequence_lengths", "prior_scales",
           "attention_params", "attention_points", "near_end_point", "near_tricritical"]

KINDS = ("softmax", "linear")
ANCHORS = ("beta_c", "spinodal_lo", "spinodal_hi", "window")


@dataclass(frozen=True)
class AttentionParams:
    """One parameter point of the attention model; ``kwargs`` feeds ``grokphase.attention``'s
    functions, e.g. ``attention.transition(**p.kwargs)``, ``attention.solve(beta, **p.kwargs)``."""

    kind: str
    L: float
    s_qk: float
    s_uv: float

    @property
    def kwargs(self) -> dict:
        return {"kind": self.kind, "L": self.L, "s_qk": self.s_qk, "s_uv": self.s_uv}

    def transition(self):
        """``grokphase.attention.transition`` at this point."""
        from grokphase import attention

        return attention.transition(**self.kwargs)


@dataclass(frozen=True)
class AttentionPoint:
    """A parameter point and a beta placed relative to a landmark of its transition.

    anchor: 'beta_c', 'spinodal_lo', 'spinodal_hi' (beta = anchor_value (1 + offset)) or 'window'
    (beta = beta_sp^- + offset (beta_sp^+ - beta_sp^-), offset in (0, 1)); transition: the
    ``Transition`` the landmark was read from."""

    params: AttentionParams
    beta: float
    anchor: str
    anchor_value: float
    offset: float
    transition: object


def attention_kinds() -> st.SearchStrategy[str]:
    """'softmax' or 'linear'."""
    return st.sampled_from(KINDS)


def sequence_lengths(min_value: int = 2, max_value: int = 32) -> st.SearchStrategy[int]:
    """Sequence lengths L, integers in [min_value, max_value] with min_value >= 2."""
    if not (2 <= min_value <= max_value):
        raise ValueError(f"sequence lengths need 2 <= min_value <= max_value, got ({min_value}, {max_value})")
    return st.integers(min_value, max_value)


def prior_scales(lo: float, hi: float) -> st.SearchStrategy[float]:
    """A prior scale (s_qk = s_q s_k or s_uv = s_u s_v), log-uniform in [lo, hi], 0 < lo."""
    return log_uniform(lo, hi)


@st.composite
def attention_params(draw, kind=None, L=None, s_qk=None, s_uv=None):
    """``AttentionParams`` over the model's domain.

    ====== ============================ ===========================================
    field  meaning                      default
    ====== ============================ ===========================================
    kind   'softmax' or 'linear'        both
    L      sequence length (>= 2)       integers in [2, 32]
    s_qk   query-key prior scale        log-uniform in [0.01, 5]
    s_uv   value-output prior scale     log-uniform in [0.1, 100]
    ====== ============================ ===========================================
    """
    return AttentionParams(kind=draw(field(kind, attention_kinds())),
                           L=draw(field(L, sequence_lengths())),
                           s_qk=draw(field(s_qk, prior_scales(0.01, 5.0))),
                           s_uv=draw(field(s_uv, prior_scales(0.1, 100.0))))


_OFFSETS = {"beta_c": st.floats(-0.5, 0.5), "spinodal_lo": st.floats(-0.05, 0.05),
            "spinodal_hi": st.floats(-0.05, 0.05),
            "window": st.floats(1e-6, 1.0 - 1e-6)}


@st.composite
def attention_points(draw, params=None, anchor="beta_c", offset=None):
    """``AttentionPoint``: parameters and a beta relative to beta_c, a spinodal or the window.

    params: a strategy of ``AttentionParams`` (default ``attention_params()``; for the spinodal and
    window anchors ``attention_params(kind='softmax')``, and draws without a first-order transition
    are rejected, which in the default softmax domain is about 1 in 20).
    anchor: 'beta_c' (default offset in [-0.5, 0.5]), 'spinodal_lo' / 'spinodal_hi' (offset in
    [-0.05, 0.05]); beta = anchor_value (1 + offset).  'window': beta = beta_sp^- + offset
    (beta_sp^+ - beta_sp^-), offset in (0, 1): inside the hysteresis window, where the uniform and
    copy minima coexist (default offset in [1e-6, 1 - 1e-6]).  Relative offsets below -1 would give
    beta < 0 and are refused, as are window offsets outside [0, 1].
    """
    if anchor not in ANCHORS:
        raise ValueError(f"anchor must be one of {ANCHORS}, got {anchor!r}")
    default = attention_params() if anchor == "beta_c" else attention_params(kind="softmax")
    p = draw(field(params, default))
    t = p.transition()
    x = draw(field(offset, _OFFSETS[anchor]))
    if anchor == "beta_c":
        ref = t.beta_c
    else:
        assume(t.order == "first")
        lo, hi = t.beta_spinodal
        ref = {"spinodal_lo": lo, "spinodal_hi": hi, "window": lo}[anchor]
    if anchor == "window":
        if not 0.0 <= x <= 1.0:
            raise ValueError(f"offset must be in [0, 1] for the window anchor, got {x}")
        beta = lo + x * (hi - lo)
    else:
        if x < -1.0:
            raise ValueError(f"offset must be >= -1 (beta >= 0), got {x}")
        beta = ref * (1.0 + x)
    return AttentionPoint(params=p, beta=float(beta), anchor=anchor, anchor_value=float(ref), offset=float(x),
                          transition=t)


@st.composite
def near_end_point(draw, s_qk=None, s_uv=None, distance=None, side="above"):
    """Softmax ``AttentionParams`` with L just above (or below) the critical end point L_c(s_qk, s_uv).

    L = L_c (1 + distance) for side='above' (the first-order side: the transition there is
    'first', or 'critical' within the solver's resolution), L_c (1 - distance) for side='below'
    (crossover).  Defaults: s_qk log-uniform in [0.01, 5], s_uv in [0.1, 100] (L_c lies in (2, 64)
    there), distance log-uniform in [1e-8, 1e-2].  L_c and beta* come from
    ``grokphase.attention.critical_end_point(s_qk=..., s_uv=...)`` (a ValueError from it means the
    chosen priors have no end point in 2 < L < 64).
    """
    from grokphase import attention

    if side not in ("above", "below"):
        raise ValueError(f"side must be 'above' or 'below', got {side!r}")
    sq = draw(field(s_qk, prior_scales(0.01, 5.0)))
    su = draw(field(s_uv, prior_scales(0.1, 100.0)))
    d = draw(field(distance, log_uniform(1e-8, 1e-2)))
    L_c, _ = attention.critical_end_point(kind="softmax", s_qk=sq, s_uv=su, fit_exponents=False)
    L = L_c * (1.0 + d) if side == "above" else L_c * (1.0 - d)
    if L < 2.0:
        raise ValueError(f"distance: L = L_c (1 - distance) = {L} is below 2 (L_c = {L_c})")
    return AttentionParams(kind="softmax", L=float(L), s_qk=float(sq), s_uv=float(su))


@st.composite
def near_tricritical(draw, L=None, s_qk=None, distance=None, side="both"):
    """Linear ``AttentionParams`` with s = s_qk s_uv near the tricritical s_tc(L) = (1 + L)/(2 sqrt L).

    s_uv = s_tc(L) (1 + r) / s_qk with r = +distance (side='above': a continuous transition), r =
    -distance (side='below': weakly first order, window ~ r^2), or either sign (side='both').  Close
    to s_tc, within the solver's resolution (|r| up to about 1e-6 above, 1e-5 below), the
    transition is reported as 'tricritical' (kappa ~ (beta - beta_c)^(1/4)).  Defaults: L integers in [2, 32], s_qk log-uniform in [0.01, 5], distance
    log-uniform in [1e-7, 1e-2].
    """
    from grokphase.numerics._attention_kernels import linear_s_tc

    if side not in ("above", "below", "both"):
        raise ValueError(f"side must be 'above', 'below' or 'both', got {side!r}")
    L_ = draw(field(L, sequence_lengths()))
    sq = draw(field(s_qk, prior_scales(0.01, 5.0)))
    d = draw(field(distance, log_uniform(1e-7, 1e-2)))
    sign = {"above": 1.0, "below": -1.0}.get(side) or draw(st.sampled_from((1.0, -1.0)))
    return AttentionParams(kind="linear", L=L_, s_qk=float(sq), s_uv=float(linear_s_tc(float(L_)) * (1 + sign * d) / sq))
