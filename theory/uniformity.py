"""SymPy derivations for token uniformity in grokking on Z_p (the MED paper, arXiv 2504.03162).

Model specification: ``docs/uniformity_med.md`` (§4 and §7).  The
paper's theorems were not available; everything here is derived in this package and each result
comes with an independent check in ``tests/theory/test_uniformity_derivations.py`` (exact
arithmetic at small p in the cyclotomic field Q(omega), a NumPy twin, and hypothesis properties).

Notation: p an odd prime, ids t in Z_p, embedding rows e_t in R^D, omega = exp(2 pi i / p), DFT
E_k = sum_t e_t omega^(-k t) (per model dimension), merged power P_f = |E_f|^2 + |E_{p-f}|^2 for
f = 1..(p-1)/2 (summed over dimensions).

Results
-------
1. Adjacent distances in Fourier form (any embedding, Parseval):
       (1/p) sum_{t in Z_p} |e_{t+1} - e_t|^2 = (4/p^2) sum_k sin^2(pi k/p) |E_k|^2
                                             = (4/p^2) sum_{f=1}^{(p-1)/2} sin^2(pi f/p) P_f,
   because the cyclic second difference has the Fourier modes omega^(k t) as eigenvectors with
   eigenvalue 2 - omega^k - omega^(-k) = 4 sin^2(pi k / p) (:func:`shift_eigen_residual`) and the
   DFT is unitary up to 1/p (:func:`fourier_orthogonality`).  Uniform spacing means all p cyclic
   distances equal; with mean mu, population spread s = sd/mu and rms r: mu = r / sqrt(1 + s^2)
   (:func:`mean_from_rms`).
2. Clock embeddings (K frequencies on orthogonal planes): equal norms sum A_k^2, all distances at
   separation m equal to sqrt(sum 4 A_k^2 sin^2(pi k m/p)), merged power P_{k} = p^2 A_k^2.
3. The quadratic network for modular addition (Gromov 2023, arXiv 2301.02679) with Fourier
   weights on a phase grid of m x m neurons per frequency: logits
       z_c(a, b) = sum_k (m^2 A_k^3 / 2) cos(w_k (a + b - c)),  exactly, for m >= 3,
   maximal at c = a + b mod p; its first-layer columns are a clock embedding (Gram matrix
   sum_k (m^2 A_k^2/2) cos(w_k (a - b))); squared parameter norm 3 p m^2 sum_k A_k^2 / 2.
4. Rows without data under AdamW (decoupled weight decay): a row whose gradient is always zero
   keeps zero moments, so each step multiplies it by (1 - eta_s lam); with a linear warm-up of W
   steps from 0 (eta_s = eta min(s/W, 1)) the factor after n steps is
       F(n) = prod_{s<min(n,W)} (1 - eta lam s/W) * (1 - eta lam)^max(n-W, 0),
   ~ exp(-eta lam (n - (W+1)/2)) to first order in eta lam.
5. Test-accuracy ceilings of the strip split (offset d, all second-operand ids seen in training):
   1 - p min(k+1, d) / (p (k+1) + L), L = max(0, p (p-k-1) - n_train) the unsampled remainder.

Nothing here imports NumPy or any other module of this package.
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "symbols",
    "adjacent_spectral_weight",
    "shift_eigen_residual",
    "fourier_orthogonality",
    "parseval_cyclotomic_residual",
    "mean_from_rms",
    "med_boundary_form",
    "clock_embedding",
    "clock_norm2",
    "clock_distance2",
    "clock_distance2_closed",
    "clock_merged_power",
    "quadratic_neuron_harmonics",
    "quadratic_grid_logit",
    "quadratic_logit_identity",
    "quadratic_grid_gram",
    "quadratic_param_norm2",
    "theta_substitution",
    "untrained_row_factor",
    "untrained_row_first_order",
    "strip_ceiling",
    "strip_collapsed_ceiling",
]

p = sp.Symbol("p", positive=True, integer=True)
k = sp.Symbol("k", integer=True)
f = sp.Symbol("f", integer=True, positive=True)
t = sp.Symbol("t", integer=True)
A = sp.Symbol("A", positive=True)
eta = sp.Symbol("eta", positive=True)
lam = sp.Symbol("lam", positive=True)
W = sp.Symbol("W", positive=True, integer=True)
n = sp.Symbol("n", nonnegative=True, integer=True)


def symbols() -> dict[str, sp.Symbol]:
    """The shared symbols by name: p, k, f, t, A, eta (learning rate), lam (weight decay),
    W (warm-up steps), n (optimiser steps)."""
    return dict(p=p, k=k, f=f, t=t, A=A, eta=eta, lam=lam, W=W, n=n)


def _omega_power(m):
    return sp.exp(2 * sp.pi * sp.I * m / p)


# ----------------------------------------------------------------------------- 1. Parseval form
def adjacent_spectral_weight() -> sp.Expr:
    """w(f) = 4 sin^2(pi f / p) / p^2: mean squared cyclic adjacent distance = sum_f w(f) P_f.

    The same weight multiplies |E_k|^2 for each k in 0..p-1 and the merged power P_f (f and p - f
    have equal weights, :func:`shift_eigen_residual` and sin(pi - x) = sin x).

    >>> adjacent_spectral_weight().subs({f: 1, p: 3})
    1/3
    """
    return 4 * sp.sin(sp.pi * f / p) ** 2 / p**2


def shift_eigen_residual() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """Residuals (each simplifies to 0) of the three facts behind the Parseval form, symbolic p, k:

    (i)  (L v)(t) - 4 sin^2(pi k/p) v(t) for v(t) = omega^(k t) and the cyclic second difference
         (L v)(t) = 2 v(t) - v(t+1) - v(t-1), i.e. sum_t |e_{t+1} - e_t|^2 = e^T L e;
    (ii) |1 - omega^k|^2 - 4 sin^2(pi k/p) (the shift theorem's factor);
    (iii) v(t + p) - v(t) (the modes are periodic on Z_p for integer k).
    """
    v = lambda s: _omega_power(k * s)  # noqa: E731
    lam_k = 4 * sp.sin(sp.pi * k / p) ** 2
    r1 = sp.simplify(sp.expand((2 * v(t) - v(t + 1) - v(t - 1)) / v(t) - lam_k).rewrite(sp.cos))
    r2 = sp.simplify(sp.expand((1 - _omega_power(k)) * (1 - _omega_power(-k)) - lam_k).rewrite(sp.cos))
    r3 = sp.simplify(v(t + p) - v(t))
    return r1, r2, r3


def fourier_orthogonality() -> sp.Expr:
    """sum_{t=0}^{p-1} omega^(m t) as SymPy evaluates it: p if omega^m = 1 (m = 0 mod p), else 0.

    With (i) of :func:`shift_eigen_residual` this is Parseval for the DFT:
    sum_t |x_t|^2 = (1/p) sum_k |X_k|^2, hence result 1 of the module docstring."""
    m = sp.Symbol("m", integer=True)
    return sp.summation(_omega_power(m * t), (t, 0, p - 1))


def parseval_cyclotomic_residual(p_value: int, wrap: bool = True) -> sp.Expr:
    """Exact check of result 1 at a given prime p in the cyclotomic field Q(omega).

    With symbolic real entries e_0..e_{p-1} (one model dimension; the identity is additive over
    dimensions), computes sum_k |1 - omega^k|^2 |E_k|^2 - p sum_t (e_{t+1} - e_t)^2 by polynomial
    arithmetic in x modulo the cyclotomic polynomial Phi_p(x) (x = omega; omega^(-j) = x^(p-j)).
    Returns the remainder, a polynomial in x and the e's: exactly 0 when the identity holds.
    ``wrap=False`` leaves the pair (p-1, 0) out of the direct sum: the remainder is then
    p (e_0 - e_{p-1})^2, not 0 (the Fourier form needs the wrap-around pair)."""
    if not (isinstance(p_value, int) and p_value >= 3 and sp.isprime(p_value)):
        raise ValueError(f"p_value must be an odd prime, got {p_value!r}")
    P = p_value
    x = sp.Symbol("x")
    e = sp.symbols(f"e0:{P}", real=True)
    phi = sp.Poly(sp.cyclotomic_poly(P, x), x)
    total = sp.Integer(0)
    for kk in range(P):
        E = sum(e[s] * x ** ((-kk * s) % P) for s in range(P))       # E_k
        Ec = sum(e[s] * x ** ((kk * s) % P) for s in range(P))       # conj(E_k), e real
        weight = 2 - x ** (kk % P) - x ** ((-kk) % P)                # |1 - omega^k|^2
        total += sp.expand(weight * E * Ec)
    pairs = range(P) if wrap else range(P - 1)
    direct = P * sum((e[(s + 1) % P] - e[s]) ** 2 for s in pairs)
    return sp.Poly(sp.expand(total - direct), x).rem(phi).as_expr()


def mean_from_rms() -> tuple[sp.Expr, sp.Symbol, sp.Symbol]:
    """(mu(r, s), r, s): the mean of the p cyclic distances from their rms r and spread s = sd/mu.

    From r^2 = mu^2 + sd^2 (population variance): mu = r / sqrt(1 + s^2); mu = r iff s = 0."""
    r, s = sp.symbols("r s", nonnegative=True)
    mu = sp.Symbol("mu", positive=True)
    sol = sp.solve(sp.Eq(r**2, mu**2 + (s * mu) ** 2), mu)
    return sol[0], r, s


def med_boundary_form() -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    """MED at offset d = 0 from the cyclic mean: (expr, (mu, delta_a, delta_b)).

    The paper's MED averages the p - 2 distances |e_{i+1} - e_i|, i = 0..p-3: of the p cyclic
    distances it leaves out delta_a = |e_{p-1} - e_{p-2}| and the wrap-around delta_b = |e_0 - e_{p-1}|:
        MED = (p mu - delta_a - delta_b) / (p - 2).
    So MED = mu (and = rms) whenever the spacing is uniform, whatever the boundary convention."""
    mu, da, db = sp.symbols("mu delta_a delta_b", nonnegative=True)
    return (p * mu - da - db) / (p - 2), (mu, da, db)


# ----------------------------------------------------------------------------- 2. clock embeddings
def _plane_symbols(K: int):
    if not (isinstance(K, int) and K >= 1):
        raise ValueError(f"K (number of frequencies) must be an integer >= 1, got {K!r}")
    amps = sp.symbols(f"A1:{K + 1}", positive=True)
    freqs = sp.symbols(f"k1:{K + 1}", integer=True, positive=True)
    phases = sp.symbols(f"phi1:{K + 1}", real=True)
    return amps, freqs, phases


def clock_embedding(K: int, s=t) -> tuple[sp.Matrix, tuple]:
    """e_s (2K-vector) of a clock embedding with K frequencies on orthogonal coordinate planes:
    coordinates (A_j cos(w_j s + phi_j), A_j sin(w_j s + phi_j)), w_j = 2 pi k_j / p.
    Returns (vector, (amplitudes, frequencies, phases))."""
    amps, freqs, phases = _plane_symbols(K)
    comps = []
    for Aj, kj, ph in zip(amps, freqs, phases):
        w = 2 * sp.pi * kj / p
        comps += [Aj * sp.cos(w * s + ph), Aj * sp.sin(w * s + ph)]
    return sp.Matrix(comps), (amps, freqs, phases)


def _simplify_trig(expr) -> sp.Expr:
    """Simplify a trigonometric polynomial through exponentials (fast and exact), back to cosines."""
    return sp.simplify(sp.simplify(sp.expand(sp.expand(expr).rewrite(sp.exp))).rewrite(sp.cos))


def clock_norm2(K: int) -> sp.Expr:
    """|e_t|^2 of the clock embedding, derived: sum_j A_j^2 (the same for every t)."""
    e, _ = clock_embedding(K)
    return _simplify_trig((e.T * e)[0])


def clock_distance2(K: int, m=1) -> sp.Expr:
    """|e_{t+m} - e_t|^2 of the clock embedding, derived: free of t, and equal to
    sum_j 4 A_j^2 sin^2(pi k_j m / p) (:func:`clock_distance2_closed`)."""
    e0, _ = clock_embedding(K)
    e1, _ = clock_embedding(K, t + m)
    d = e1 - e0
    return _simplify_trig((d.T * d)[0])


def clock_distance2_closed(K: int, m=1) -> sp.Expr:
    """The closed form sum_j 4 A_j^2 sin^2(pi k_j m / p) of :func:`clock_distance2`."""
    amps, freqs, _ = _plane_symbols(K)
    return sum(4 * a**2 * sp.sin(sp.pi * kj * m / p) ** 2 for a, kj in zip(amps, freqs))


def clock_merged_power(K: int) -> tuple[sp.Expr, ...]:
    """Merged DFT power P_{k_j} = p^2 A_j^2 of a clock embedding, frequency by frequency.

    Each plane contributes |E|^2 = (p A_j / 2)^2 at k_j and at p - k_j in both of its coordinates
    (valid for distinct k_j in 1..(p-1)/2).  Consistency with result 1 is checked in the tests:
    sum_j w(k_j) p^2 A_j^2 = clock_distance2(K, 1) / 1 (all distances equal: the rms is the
    distance)."""
    amps, _, _ = _plane_symbols(K)
    return tuple(p**2 * Aj**2 for Aj in amps)


# ----------------------------------------------------------------------------- 3. quadratic network
_ta, _tb, _tc = sp.symbols("theta_a theta_b theta_c", real=True)
_ph1, _ph2 = sp.symbols("phi_1 phi_2", real=True)


def _harmonics(expr) -> dict[tuple[int, int], sp.Expr]:
    """Coefficients c_n of expr = sum_n c_n exp(i (n1 phi_1 + n2 phi_2)) (a trigonometric
    polynomial in the two phases)."""
    z1, z2 = sp.symbols("z1 z2")
    e = sp.expand(sp.expand(expr.rewrite(sp.exp)), power_exp=True)
    e = sp.expand(e.subs({sp.exp(sp.I * _ph1): z1, sp.exp(sp.I * _ph2): z2}))
    e = sp.expand(sp.powsimp(e))
    deg = 8
    poly = sp.Poly(sp.expand(e * z1**deg * z2**deg), z1, z2)
    out = {}
    for (d1, d2), c in poly.terms():
        out[(d1 - deg, d2 - deg)] = sp.simplify(c)
    if any(s.has(_ph1) or s.has(_ph2) for s in out.values()):  # pragma: no cover (a derivation bug)
        raise RuntimeError("phase left in a harmonic coefficient")
    return out


def quadratic_neuron_harmonics() -> dict[tuple[int, int], sp.Expr]:
    """One neuron's contribution W_c (U_a + V_b)^2 to the logit of class c, as harmonics in its phases.

    Neuron of frequency k (w = 2 pi k/p, theta_x = w x): U_a = A cos(theta_a + phi_1),
    V_b = A cos(theta_b + phi_2), W_c = A cos(theta_c + phi_1 + phi_2) (Gromov's Fourier weights).
    Keys (n1, n2) of exp(i (n1 phi_1 + n2 phi_2)); values in theta_a, theta_b, theta_c, A.  The
    phase-free part (0, 0) is (A^3/2) cos(theta_a + theta_b - theta_c)."""
    U = A * sp.cos(_ta + _ph1)
    V = A * sp.cos(_tb + _ph2)
    Wc = A * sp.cos(_tc + _ph1 + _ph2)
    return _harmonics(Wc * (U + V) ** 2)


def quadratic_grid_logit(m: int) -> sp.Expr:
    """Logit summed over the m x m phase grid phi_i = 2 pi j_i / m of one frequency, exactly.

    sum_{j1, j2} exp(i 2 pi (n1 j1 + n2 j2)/m) = m^2 if m | n1 and m | n2, else 0; so the grid sum
    keeps m^2 c_n for those n.  Returns an expression in theta_a, theta_b, theta_c, A."""
    if not (isinstance(m, int) and m >= 1):
        raise ValueError(f"m (phase-grid size) must be an integer >= 1, got {m!r}")
    h = quadratic_neuron_harmonics()
    total = sum((m**2 * c for (n1, n2), c in h.items() if n1 % m == 0 and n2 % m == 0), sp.Integer(0))
    return sp.simplify(sp.expand(total).rewrite(sp.cos))


def quadratic_logit_identity(m: int = 3) -> tuple[sp.Expr, sp.Expr]:
    """(grid logit, the claimed form (m^2 A^3/2) cos(theta_a + theta_b - theta_c)); equal for m >= 3.

    For m = 2 the grid keeps the n = (2, 2), (2, 0), (0, 2) harmonics and the identity fails (the
    tests check that too).  With w_k = 2 pi k / p and theta_x = w_k x, the full network over a set
    of frequencies has z_c(a, b) = sum_k (m^2 A_k^3/2) cos(w_k (a + b - c)), maximal exactly at
    c = a + b mod p (each cosine is 1 there and, p prime, < 1 elsewhere)."""
    return quadratic_grid_logit(m), m**2 * A**3 / 2 * sp.cos(_ta + _tb - _tc)


def quadratic_grid_gram(m: int = 3) -> sp.Expr:
    """U_a . U_b over one frequency's m x m phase grid: (m^2 A^2/2) cos(theta_a - theta_b) (m >= 3).

    The first-layer columns are therefore isometric to a clock embedding with amplitudes
    A'_k = m A_k / sqrt(2): equal norms and equal adjacent distances 2 m^2 A_k^2 sin^2(pi k/p)."""
    if not (isinstance(m, int) and m >= 1):
        raise ValueError(f"m (phase-grid size) must be an integer >= 1, got {m!r}")
    h = _harmonics(A * sp.cos(_ta + _ph1) * A * sp.cos(_tb + _ph1))
    total = sum((m**2 * c for (n1, n2), c in h.items() if n1 % m == 0 and n2 % m == 0), sp.Integer(0))
    return sp.simplify(sp.expand(total).rewrite(sp.cos))


def quadratic_param_norm2(K: int, m: int = 3) -> sp.Expr:
    """|U|^2 + |V|^2 + |W|^2 of the grid network with K frequencies (amplitudes A_j):
    3 p m^2 sum_j A_j^2 / 2 (each of the 3 m^2 K neurons' rows holds p cosines with
    sum_x cos^2(w x + phi) = p/2, valid when p does not divide 2 k_j)."""
    amps, _, _ = _plane_symbols(K)
    return sp.Rational(3, 2) * p * m**2 * sum(a**2 for a in amps)


def theta_substitution(kk, a, b, c) -> dict:
    """{theta_a: w a, theta_b: w b, theta_c: w c} for frequency kk (w = 2 pi kk / p)."""
    w = 2 * sp.pi * kk / p
    return {_ta: w * a, _tb: w * b, _tc: w * c}


# ----------------------------------------------------------------------------- 4. rows without data
def untrained_row_factor(warmup: bool = True) -> sp.Expr:
    """F(n): norm of a never-trained row after n AdamW steps relative to its initial norm.

    AdamW (decoupled): p <- p (1 - eta_s lam) - eta_s mhat / (sqrt(vhat) + eps); with gradients
    always 0 the moments stay 0 and the second term is 0 exactly.  eta_s = eta min(s/W, 1) with a
    linear warm-up (``warmup``), else eta.  Closed form with c = eta lam / W:
        prod_{s=0}^{n-1} (1 - c s) = (-c)^n RisingFactorial(-1/c, n)   (n <= W),
    then a factor (1 - eta lam) per step."""
    if not warmup:
        return (1 - eta * lam) ** n
    c = eta * lam / W
    s = sp.Symbol("s", integer=True, nonnegative=True)
    ramp = lambda m: sp.product(1 - c * s, (s, 0, m - 1))  # noqa: E731
    return sp.Piecewise((ramp(n), n <= W), (ramp(W) * (1 - eta * lam) ** (n - W), True))


def untrained_row_first_order() -> sp.Expr:
    """log F(n) to first order in eta lam for n >= W: -eta lam (n - (W + 1)/2) (the warm-up
    steps' mean multiplier is (W - 1)/(2W)); without warm-up set W = 1 (and F = (1 - eta lam)^n)."""
    s = sp.Symbol("s", integer=True, nonnegative=True)
    ramp = sp.summation(s / W, (s, 0, W - 1))
    return sp.simplify(-eta * lam * (ramp + (n - W)))


# ----------------------------------------------------------------------------- 5. ceilings
def strip_ceiling() -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    """Ceiling of the strip split, (expr, (kk, d, n_train)).

    Test set: the p (k+1) pairs with a <= k and the L = max(0, p (p-k-1) - n_train) unsampled
    others.  First-operand ids a <= k appear in training only as second-operand ids b + d, i.e.
    when a >= d; the min(k+1, d) ids below d never appear.  Assuming every second-operand id
    appears in training (true for the paper's splits), the fraction of test pairs with both ids
    seen is 1 - p min(k+1, d) / (p (k+1) + L)."""
    kk, d, ntr = sp.symbols("k_strip d n_train", nonnegative=True, integer=True)
    L = sp.Max(0, p * (p - kk - 1) - ntr)
    return 1 - p * sp.Min(kk + 1, d) / (p * (kk + 1) + L), (kk, d, ntr)


def strip_collapsed_ceiling() -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    """Ceiling when the never-trained rows have decayed to one common vector (addition mod p).

    Then the pairs (a, b) with a never seen are indistinguishable for fixed b: the model gives
    one answer per b and, the labels a + b being distinct, gets at most one of them right; this
    adds p / n_test to :func:`strip_ceiling` when min(k+1, d) >= 1."""
    ceil, (kk, d, ntr) = strip_ceiling()
    L = sp.Max(0, p * (p - kk - 1) - ntr)
    return ceil + sp.Piecewise((p / (p * (kk + 1) + L), sp.Min(kk + 1, d) >= 1), (0, True)), (kk, d, ntr)

