"""Assertions for asymptotic claims about a sequence: a limit, a rate of convergence, a power law.

Convention: a sequence is ordered towards its asymptotic regime, so that the claim should hold
best at its end (x increasing for claims as x -> infinity; beta - beta_c decreasing for critical
exponents as beta -> beta_c).  A claim that does not hold raises AssertionError with a message
that lists the whole sequence; malformed input (wrong shapes, non-positive x, no tolerance)
raises ValueError.  The helpers need only NumPy (no hypothesis).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grokphase.testing._report import table

__all__ = ["assert_tends_to", "assert_ratio_tends_to", "assert_rate", "assert_power_law", "RateCheck",
           "PowerLawCheck"]

_EPS = np.finfo(np.float64).eps


def _sequence(name: str, values, min_size: int = 2) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size < min_size:
        raise ValueError(f"{name} must be a 1-d sequence of length >= {min_size}, got shape {v.shape}")
    return v


def _positive_monotone(name: str, xs, n: int, increasing_only: bool = False) -> np.ndarray:
    x = _sequence(name, xs)
    if x.size != n:
        raise ValueError(f"{name} must have the length of the values ({n}), got {x.size}")
    if not (np.all(np.isfinite(x)) and np.all(x > 0)):
        raise ValueError(f"{name} must be finite and > 0, got {x}")
    dx = np.diff(x)
    if not (np.all(dx > 0) or (not increasing_only and np.all(dx < 0))):
        raise ValueError(f"{name} must be strictly {'increasing' if increasing_only else 'monotone'}, got {x}")
    return x


def _finite(name: str, v: np.ndarray, **columns) -> None:
    if not np.all(np.isfinite(v)):
        raise AssertionError(f"non-finite {name} along the sequence:\n" + table(**columns, **{name: v}))


def assert_tends_to(values, limit: float, *, rtol: float | None = None, atol: float | None = None,
                    monotone: bool | str = True, slack: float = 1e-12, xs=None, name: str = "value") -> None:
    r"""Assert that a sequence v_0, ..., v_{K-1} converges to ``limit``.

    With d_k = |v_k - limit| the claim holds iff

    * the last point is close: d_{K-1} <= atol + rtol |limit|;
    * and, according to ``monotone``:

      - True: the distance never grows beyond rounding, d_{k+1} <= d_k + slack (|limit| + d_k);
      - 'increasing' / 'decreasing': the values approach from one side monotonically,
        v_{k+1} >= v_k - slack (|limit| + |v_k|) (resp. <= ... + ...);
      - False: only the last point is checked.

    Parameters
    ----------
    values : array_like, shape (K,), K >= 2
        The sequence, ordered towards the limit.
    limit : float
        The claimed limit.
    rtol, atol : float, optional
        Relative (to |limit|) and absolute tolerance of the last point; at least one must be given.
    monotone : bool or {'increasing', 'decreasing'}
        The monotonicity claimed on the way (see above).
    slack : float
        Relative allowance for rounding in the monotonicity check.
    xs : array_like, shape (K,), optional
        The abscissae, only shown in the failure message.
    name : str
        What the values are (shown in the message).

    Raises
    ------
    AssertionError
        When the claim fails; the message lists k, x, v_k and d_k for the whole sequence.
    """
    v = _sequence(name, values)
    limit = float(limit)
    if rtol is None and atol is None:
        raise ValueError("give rtol and/or atol")
    tol = (atol or 0.0) + (rtol or 0.0) * abs(limit)
    if not tol > 0:
        raise ValueError(f"the tolerance atol + rtol |limit| must be > 0, got {tol} (limit {limit}: give atol)")
    if monotone not in (True, False, "increasing", "decreasing"):
        raise ValueError(f"monotone must be True, False, 'increasing' or 'decreasing', got {monotone!r}")
    cols = {} if xs is None else {"x": np.asarray(xs, dtype=np.float64)}
    _finite(name, v, **cols)
    d = np.abs(v - limit)
    cols |= {name: v, f"|{name} - limit|": d}
    if monotone is True:
        bad = np.flatnonzero(np.diff(d) > slack * (abs(limit) + d[:-1]))
        what = f"|{name} - {limit:.10g}| grows"
    elif monotone:
        step = np.diff(v) if monotone == "increasing" else -np.diff(v)
        bad = np.flatnonzero(step < -slack * (abs(limit) + np.abs(v[:-1])))
        what = f"{name} is not {monotone}"
    else:
        bad = np.array([], dtype=int)
    if bad.size:
        raise AssertionError(f"{what} from k = {bad[0]} to k = {bad[0] + 1} (not a monotone approach):\n"
                             + table(**cols))
    if d[-1] > tol:
        raise AssertionError(f"{name} ends {d[-1]:.4g} from the limit {limit:.10g} (tolerance {tol:.4g}):\n"
                             + table(**cols))


def assert_ratio_tends_to(f, g, limit: float = 1.0, *, rtol: float, monotone: bool | str = True,
                          slack: float = 1e-12) -> None:
    r"""Assert that f_k / g_k -> ``limit`` along a sequence (arrays of shape (K,), K >= 2).

    ``assert_tends_to`` on the ratios r_k = f_k / g_k with relative tolerance ``rtol``:
    |r_{K-1} - limit| <= rtol |limit| and, if ``monotone``, |r_k - limit| non-increasing up to
    ``slack`` (|limit| + |r_k - limit|).  Typical use: an exact curve over its asymptotic form.
    """
    f = np.asarray(f, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if f.shape != g.shape or f.ndim != 1 or f.size < 2:
        raise ValueError(f"f and g must be 1-d arrays of the same length >= 2, got shapes {f.shape}, {g.shape}")
    assert_tends_to(f / g, limit, rtol=rtol, monotone=monotone, slack=slack, name="f/g")


@dataclass(frozen=True)
class RateCheck:
    """What ``assert_rate`` measured.

    local_orders: p_k between consecutive points, shape (K-1,); order_fit: the least-squares slope
    of -log|v - limit| against log x over the checked window; prefactor: C = (v_{K-1} - limit)
    x_{K-1}^order; limit_extrapolated: Richardson's limit from the last two points with the
    claimed order; limit_error: its error estimate |R_{K-2} - R_{K-3}|."""

    local_orders: np.ndarray
    order_fit: float
    prefactor: float
    limit_extrapolated: float
    limit_error: float


def assert_rate(xs, values, limit: float, order: float, *, order_atol: float = 0.1, window: int = 2,
                err_factor: float = 3.0, rtol: float = 0.0, atol: float = 0.0) -> RateCheck:
    r"""Assert that values converge to ``limit`` at the rate x^{-order}: v(x) - limit ~ C x^{-order}.

    With e_k = v_k - limit at increasing x_k (for a small parameter h -> 0 pass x = 1/h; for 1/N
    pass x = N and order 1), the checks are:

    1. Local orders.  p_k = -ln(|e_{k+1}| / |e_k|) / ln(x_{k+1} / x_k).  If e = C x^{-p}(1 + O(x^{-q}))
       then p_k = p + O(x_k^{-q}).  The last ``window`` local orders must satisfy |p_k - order| <=
       order_atol, and e_k must keep one sign there (a power of x does not change sign).  A wrong
       limit L' fails here: e_k -> L - L' is constant, so p_k -> 0.  The least-squares slope over
       the window (``order_fit``) is a weighted mean of these p_k, so it passes too.
    2. Richardson extrapolation.  With the claimed order p, eliminating C x^{-p} from two points,
       R_k = (x_{k+1}^p v_{k+1} - x_k^p v_k) / (x_{k+1}^p - x_k^p) = limit + O(x_k^{-p-q}).  The estimate
       is R = R_{K-2}, its error estimate err = |R_{K-2} - R_{K-3}| (for geometric x with ratio r,
       |R - limit| is about err / (r^{p+q} - 1)).  The claim requires
       |R - limit| <= err_factor err + atol + rtol |limit| + rounding, which detects a wrong limit
       far below the distance |e_{K-1}| that check 1 sees.

    Parameters
    ----------
    xs : array_like, shape (K,), K >= max(3, window + 1)
        Strictly increasing positive abscissae.
    values : array_like, shape (K,)
        The sequence.
    limit, order : float
        The claimed limit and order (> 0).
    order_atol : float
        Allowed |p_k - order| over the window.
    window : int
        Number of final local orders that must be within order_atol (>= 1).
    err_factor, rtol, atol : float
        Tolerance of the Richardson check.

    Returns
    -------
    RateCheck

    Raises
    ------
    AssertionError
        With the table of x_k, v_k, e_k, p_k and R_k.
    """
    v = _sequence("values", values, min_size=3)
    x = _positive_monotone("xs", xs, v.size, increasing_only=True)
    limit, p = float(limit), float(order)
    if not (p > 0 and np.isfinite(p)):
        raise ValueError(f"order must be finite and > 0, got {order}")
    if not (isinstance(window, (int, np.integer)) and 1 <= window <= v.size - 1):
        raise ValueError(f"window must be an integer in [1, {v.size - 1}], got {window!r}")
    _finite("values", v, x=x)
    e = v - limit
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = -np.diff(np.log(np.abs(e))) / np.diff(np.log(x))
        xp = (x / x[-1]) ** p                      # scaled x^p (the scale cancels in R_k)
        R = (xp[1:] * v[1:] - xp[:-1] * v[:-1]) / (xp[1:] - xp[:-1])
    cols = dict(x=x, value=v, error=e, local_order=lo, richardson=R)
    tail_e = e[-window - 1:]
    if np.any(tail_e == 0) or not (np.all(tail_e > 0) or np.all(tail_e < 0)):
        raise AssertionError(f"value - {limit:.10g} vanishes or changes sign over the last {window + 1} points: "
                             f"not C x^-{p:g} (wrong limit, or not yet asymptotic):\n" + table(**cols))
    tail = lo[-window:]
    if np.any(np.abs(tail - p) > order_atol):
        raise AssertionError(f"local orders over the last {window} steps are {np.array2string(tail, precision=4)}, "
                             f"not within {order_atol:g} of {p:g}:\n" + table(**cols))
    R_last, err = R[-1], abs(R[-1] - R[-2])
    amp = (xp[-1] + xp[-2]) / (xp[-1] - xp[-2])
    rounding = 16 * _EPS * amp * max(np.max(np.abs(v[-2:])), abs(limit))
    tol = err_factor * err + atol + rtol * abs(limit) + rounding
    if abs(R_last - limit) > tol:
        raise AssertionError(f"Richardson extrapolation gives {R_last:.12g} +- {err:.3g}, which is "
                             f"{abs(R_last - limit):.3g} from the claimed limit {limit:.12g} (allowed {tol:.3g}):\n"
                             + table(**cols))
    n = window + 1
    fit = -np.polyfit(np.log(x[-n:]), np.log(np.abs(e[-n:])), 1)[0]
    return RateCheck(local_orders=lo, order_fit=float(fit), prefactor=float(e[-1] * x[-1] ** p),
                     limit_extrapolated=float(R_last), limit_error=float(err))


@dataclass(frozen=True)
class PowerLawCheck:
    """What ``assert_power_law`` measured.

    local_slopes: d log|y| / d log x between consecutive points, shape (K-1,); window: (x_first,
    x_last) of the trailing window where the claim was checked, with n_points points in it;
    exponent_fit: the least-squares log-log slope over the window; prefactor: C with
    y ~ C x^exponent (geometric mean over the window, with the sign of y)."""

    local_slopes: np.ndarray
    window: tuple[float, float]
    n_points: int
    exponent_fit: float
    prefactor: float


def assert_power_law(xs, ys, exponent: float, *, atol: float = 0.05, min_points: int = 3,
                     window: int | None = None, local: bool = True, monotone: bool = False) -> PowerLawCheck:
    r"""Assert the power law y ~ C x^exponent towards the end of the sequence (signed exponent).

    The local log-log slopes s_k = ln(|y_{k+1}| / |y_k|) / ln(x_{k+1} / x_k) tend to the exponent
    when y = C x^a (1 + o(1)) in the asymptotic regime (order the points towards it: x increasing
    for a late-time law such as K t^{-3/2}, exponent -1.5; x = beta - beta_c decreasing for a
    critical exponent).  y must keep one sign.

    * ``local=True`` (default): with ``window=None`` the window is the longest run of final points
      whose slopes all satisfy |s_k - exponent| <= atol; it must hold at least ``min_points``
      points.  With ``window=n`` exactly the last n points must.  ``monotone``: in addition,
      |s_k - exponent| must be non-increasing over the window (the slopes converge).
    * ``local=False``: the least-squares slope of ln|y| on ln x over the last ``window`` points (all
      when None) must be within atol: the check for noisy data, where single slopes scatter.

    Parameters
    ----------
    xs : array_like, shape (K,)
        Strictly monotone positive abscissae.
    ys : array_like, shape (K,)
        Values of one sign.
    exponent : float
        The claimed exponent.
    atol, min_points, window, local, monotone
        See above.

    Returns
    -------
    PowerLawCheck
        Including the window where the claim holds.

    Raises
    ------
    AssertionError
        With the table of x, y and the local slopes.
    """
    y = _sequence("ys", ys)
    x = _positive_monotone("xs", xs, y.size)
    a = float(exponent)
    if window is not None and not (isinstance(window, (int, np.integer)) and 2 <= window <= y.size):
        raise ValueError(f"window must be None or an integer in [2, {y.size}], got {window!r}")
    if not (isinstance(min_points, (int, np.integer)) and 2 <= min_points):
        raise ValueError(f"min_points must be an integer >= 2, got {min_points!r}")
    _finite("y", y, x=x)
    if np.any(y == 0) or not (np.all(y > 0) or np.all(y < 0)):
        raise AssertionError("y vanishes or changes sign: not C x^a:\n" + table(x=x, y=y))
    lx, ly = np.log(x), np.log(np.abs(y))
    s = np.diff(ly) / np.diff(lx)
    dev = np.abs(s - a)
    cols = dict(x=x, y=y, local_slope=s)
    if local:
        if window is None:
            bad = np.flatnonzero(dev > atol)
            n = y.size if bad.size == 0 else y.size - 1 - bad[-1]
            if n < min_points:
                raise AssertionError(f"the local slopes approach {a:g} within {atol:g} only over the last {n} "
                                     f"point(s), fewer than min_points = {min_points}:\n" + table(**cols))
        else:
            n = window
            if np.any(dev[-(n - 1):] > atol):
                raise AssertionError(f"local slopes over the last {n} points are not within {atol:g} of {a:g}:\n"
                                     + table(**cols))
        if monotone and np.any(np.diff(dev[-(n - 1):]) > 0):
            raise AssertionError(f"the local slopes do not converge monotonically to {a:g} over the last {n} "
                                 "points:\n" + table(**cols))
        fit = float(np.polyfit(lx[-n:], ly[-n:], 1)[0])
    else:
        n = y.size if window is None else window
        fit = float(np.polyfit(lx[-n:], ly[-n:], 1)[0])
        if abs(fit - a) > atol:
            raise AssertionError(f"the log-log fit over the last {n} points has slope {fit:.5g}, not within "
                                 f"{atol:g} of {a:g}:\n" + table(**cols))
    C = float(np.sign(y[-1]) * np.exp(np.mean(ly[-n:] - a * lx[-n:])))
    return PowerLawCheck(local_slopes=s, window=(float(x[-n]), float(x[-1])), n_points=int(n),
                         exponent_fit=fit, prefactor=C)
