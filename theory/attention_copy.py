"""SymPy derivations for Bayesian single-layer attention learning a cyclic copy task.

Model: ``docs/attention_copy.md`` (the package's own exactly solvable model with the phenomenology
of Lavie et al., arXiv 2606.12058).  Section numbers (§) below are that file's.

Model (§1): positional scores S = Q K^T / N (L x L), attention A = rowsoftmax(S) ("softmax") or
A = S ("linear"), value gain g = u.v / N, output f = g A x, target y = Pi x (cyclic previous
token).  Control parameter beta = alpha / sigma^2 with alpha = P / N.  Only s_qk = s_q s_k and
s_uv = s_u s_v survive at N = infinity.

Every function returns SymPy objects; nothing here touches NumPy.  The numeric kernels in
``grokphase.numerics._attention_kernels`` are generated from these expressions by
``grokphase.numerics.attention_codegen`` (one source of truth; a test checks the file is current).

Conventions fixed here (the model description leaves them open):

* the free energies are per N and per unit of nothing else: f = (entropy) + beta * (L/2) * loss,
  with the constant that makes f(0, 0) = beta L / 2 (so h(0) = 0);
* h is written in the cancellation-free form h = u - log(1 + u)/2, u = t - 1 = 2 x^2 /
  (s^2 (1 + sqrt(1 + 4 x^2 / s^2))), which equals the §3 form t - 1 - log(t)/2 exactly
  (checked by ``cramer_rate_forms_agree``) and keeps full relative precision as x -> 0;
* the softmax copy weight is c = 1 / (1 + (L - 1) e^{-kappa}) and 1 - c is written as
  (L - 1) e^{-kappa} / (1 + (L - 1) e^{-kappa}), so nothing cancels on the copy branch.

>>> x, s = sp.symbols('x s', positive=True)
>>> sp.series(cramer_rate(x, s), x, 0, 5).removeO().expand()
x**2/(2*s**2) - x**4/(4*s**4)
"""

from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import log1p

__all__ = [
    "symbols",
    "gram_rate_2x2",
    "cramer_rate",
    "cramer_rate_spec_form",
    "cramer_rate_derivative",
    "cramer_rate_second_derivative",
    "cramer_rate_large_x",
    "cyclic_shift",
    "population_loss_matrix",
    "population_loss_rows",
    "softmax_copy_weight",
    "softmax_row_square_sum",
    "copy_ansatz_softmax_scores",
    "value_path_marginal",
    "linear_reduced_mode_factor",
    "linear_reduced_terms",
    "linear_reduced_log_posterior",
    "linear_reduced_large_n",
    "entropy",
    "loss",
    "free_energy",
    "gradient",
    "hessian",
    "saddle_equations_spec",
    "linear_beta_c",
    "linear_kappa_scale2",
    "linear_branch_B2",
    "linear_landau_quartic",
    "linear_tricritical_s",
    "map_free_energy",
    "map_optimal_gain",
    "softmax_map_threshold",
]

KINDS = ("softmax", "linear")


def symbols() -> dict[str, sp.Symbol]:
    """The symbols shared by every expression of this module."""
    kappa, g = sp.symbols("kappa g", real=True)
    beta, L, s_qk, s_uv = sp.symbols("beta L s_qk s_uv", positive=True)
    return dict(kappa=kappa, g=g, beta=beta, L=L, s_qk=s_qk, s_uv=s_uv)


# --------------------------------------------------------------------------- the Cramér rate (§3)

def gram_rate_2x2():
    """Large deviation of the inner product x = a.b / N of a ~ N(0, s_a^2 I), b ~ N(0, s_b^2 I).

    The Wishart density of the 2x2 Gram matrix [[A, x], [x, B]] gives, per N, the rate
    F = A/(2 s_a^2) + B/(2 s_b^2) - log(AB - x^2)/2.  Minimising over the norms A, B at fixed x
    (stationarity solved below) gives A/s_a^2 = B/s_b^2 = t with t^2 - t = x^2/s^2, s = s_a s_b,
    and F_min(x) - F_min(0) = t - 1 - log(t)/2 = h(x; s).

    Returns a dict with the rate ``F``, the stationarity equations ``dF`` (in A, B), the root ``t``
    and the resulting ``h`` (as a function of x and s = s_a s_b).
    """
    A, B, sa, sb, x = sp.symbols("A B s_a s_b x", positive=True)
    F = A / (2 * sa**2) + B / (2 * sb**2) - sp.log(A * B - x**2) / 2
    dF = [sp.diff(F, A), sp.diff(F, B)]
    t = sp.Symbol("t", positive=True)
    s = sp.Symbol("s", positive=True)
    # The ansatz A = s_a^2 t, B = s_b^2 t reduces both equations to t^2 - t = x^2 / s^2.
    on_ansatz = [sp.simplify(e.subs({A: sa**2 * t, B: sb**2 * t}) * 2 * (sa**2 * sb**2 * t**2 - x**2))
                 for e in dF]
    roots = sp.solve(sp.Eq(t**2 - t, x**2 / s**2), t)
    t_root = [r for r in roots if r.subs({x: 0, s: 1}) == 1][0]
    F_ansatz = F.subs({A: sa**2 * t, B: sb**2 * t})
    h = sp.simplify((F_ansatz - F_ansatz.subs({t: 1, x: 0})).subs(x, s * sp.sqrt(t**2 - t)).subs(
        {sa: s / sb}))
    return dict(F=F, dF=dF, on_ansatz=on_ansatz, t=t_root, h_of_t=h, symbols=(A, B, sa, sb, x, t, s))


def cramer_rate(x, s):
    """h(x; s), the Cramér rate of an inner product (§3), in the cancellation-free form.

    h = u - log(1 + u)/2 with u = t - 1 = 2 x^2 / (s^2 (1 + sqrt(1 + 4 x^2 / s^2))).
    """
    u = 2 * x**2 / (s**2 * (1 + sp.sqrt(1 + 4 * x**2 / s**2)))
    return u - log1p(u) / 2


def cramer_rate_spec_form(x, s):
    """The §3 form h = t - 1 - log(t)/2, t = (1 + sqrt(1 + 4 x^2/s^2))/2 (§3)."""
    t = (1 + sp.sqrt(1 + 4 * x**2 / s**2)) / 2
    return t - 1 - sp.log(t) / 2


def cramer_rate_derivative(x, s):
    """h'(x; s) = x / (s^2 t) (§3)."""
    t = (1 + sp.sqrt(1 + 4 * x**2 / s**2)) / 2
    return x / (s**2 * t)


def cramer_rate_second_derivative(x, s):
    """h''(x; s) = 1 / (s^2 t sqrt(1 + 4 x^2 / s^2)), simplified from d/dx [x / (s^2 t)]."""
    q = sp.sqrt(1 + 4 * x**2 / s**2)
    return 1 / (s**2 * (1 + q) / 2 * q)


def cramer_rate_large_x(x, s):
    """Large-x form h ~ x/s - log(x/s)/2 - 1/2 (x > 0), exponential tails (§3)."""
    return x / s - sp.log(x / s) / 2 - sp.Rational(1, 2)


# --------------------------------------------------------------------------- loss and ansatz (§1, §3, §4)

def cyclic_shift(L: int) -> sp.Matrix:
    """Pi with Pi_{l, l-1} = 1 (cyclic), so y = Pi x is the previous token."""
    return sp.Matrix(L, L, lambda i, j: 1 if j == (i - 1) % L else 0)


def population_loss_matrix(A: sp.Matrix, g) -> sp.Expr:
    """E_x |Pi x - g A x|^2 for x ~ N(0, I_L): = Tr[(Pi - gA)(Pi - gA)^T] (§3).

    Computed as the expectation of the quadratic form with E[x x^T] = I, i.e. from the
    definition, not from the trace formula (so that tests can compare the two).
    """
    L = A.shape[0]
    R = cyclic_shift(L) - g * A
    x = sp.symbols(f"x0:{L}", real=True)
    quad = sp.expand(((R * sp.Matrix(x)).T * (R * sp.Matrix(x)))[0, 0])
    # E[x_i x_j] = delta_ij for independent standard normal tokens.
    moments = {x[i] * x[j]: (1 if i == j else 0) for i in range(L) for j in range(L)}
    poly = sp.Poly(quad, *x)
    return sp.expand(sum(coef * moments[sp.Mul(*[x[i]**p for i, p in enumerate(mon) if p])]
                         for mon, coef in poly.terms()))


def population_loss_rows(A: sp.Matrix, g) -> sp.Expr:
    """The row form of §3, l = sum_l [1 - 2 g A_{l,l-1} + g^2 sum_m A_lm^2] (§3)."""
    L = A.shape[0]
    return sp.expand(sum(1 - 2 * g * A[i, (i - 1) % L] + g**2 * sum(A[i, m]**2 for m in range(L))
                         for i in range(L)))


def softmax_copy_weight(kappa, L):
    """c = e^kappa / (e^kappa + L - 1), written as 1 / (1 + (L-1) e^{-kappa}); returns (c, 1 - c)."""
    e = (L - 1) * sp.exp(-kappa)
    return 1 / (1 + e), e / (1 + e)


def softmax_row_square_sum(kappa, L):
    """r = sum_m A_lm^2 = c^2 + (1 - c)^2 / (L - 1) on the softmax copy ansatz (§4)."""
    c, d = softmax_copy_weight(kappa, L)
    return c**2 + d**2 / (L - 1)


def copy_ansatz_softmax_scores(kappa, L: int) -> sp.Matrix:
    """S = kappa (Pi - J/L), the softmax copy ansatz in its optimal row gauge (§4)."""
    return kappa * (cyclic_shift(L) - sp.ones(L, L) / L)


# --------------------------------------------------------------------------- exact finite-N posteriors (§2)

def value_path_marginal():
    """Integrate the value gain out (§2.3).

    With g ~ N(0, tau^2) a priori and the likelihood exp[(g b - g^2 q / 2) / sigma^2] (b = Tr(A C
    Pi^T), q = Tr(A C A^T)), returns a dict with

    * ``integral``: the Gaussian integral done by SymPy;
    * ``closed_form``: (1 + tau^2 q / sigma^2)^{-1/2} exp[tau^2 b^2 / (2 sigma^2 (sigma^2 + tau^2 q))];
    * ``mean``, ``variance``: the conditional posterior of g, V b / sigma^2 and (1/tau^2 + q/sigma^2)^{-1}.
    """
    g = sp.Symbol("g", real=True)
    b = sp.Symbol("b", real=True)
    q, tau, sigma = sp.symbols("q tau sigma", positive=True)
    prior = sp.exp(-g**2 / (2 * tau**2)) / sp.sqrt(2 * sp.pi * tau**2)
    lik = sp.exp((g * b - g**2 * q / 2) / sigma**2)
    integral = sp.integrate(prior * lik, (g, -sp.oo, sp.oo), conds="none")
    closed = (1 + tau**2 * q / sigma**2) ** sp.Rational(-1, 2) * sp.exp(
        tau**2 * b**2 / (2 * sigma**2 * (sigma**2 + tau**2 * q)))
    V = 1 / (1 / tau**2 + q / sigma**2)
    norm = integral
    mean = sp.integrate(g * prior * lik, (g, -sp.oo, sp.oo), conds="none") / norm
    second = sp.integrate(g**2 * prior * lik, (g, -sp.oo, sp.oo), conds="none") / norm
    return dict(integral=integral, closed_form=closed, mean=mean, variance=second - mean**2,
                mean_spec=V * b / sigma**2, variance_spec=V, symbols=(g, b, q, tau, sigma))


def linear_reduced_mode_factor():
    """One eigenmode of the key integral for linear attention, whitened data (§2.4).

    A column s of S has, in the eigenbasis of Sigma = s_k^2 G_Q / N, independent coordinates
    s_i ~ N(0, s_k^2 lam_i / N); the energy beta N (g^2 s_i^2 - 2 g e_i s_i) / 2 couples them to the
    target unit vector e (component e_i).  Returns the Gaussian integral (g > 0 w.l.o.g.: only
    g^2 and g e_i enter) and the closed form (1 + x_i)^{-1/2} exp[beta N e_i^2 x_i / (2 (1 + x_i))] with x_i = beta s_k^2 g^2 lam_i.
    Summing e_i^2 over the L columns gives 1 per mode, and the constant -beta N L / 2 of Tr C
    completes -beta N / (2 (1 + x_i)) per mode (``linear_reduced_log_posterior``).
    """
    s_i, e_i = sp.symbols("s_i e_i", real=True)
    g, beta, N, s_k, lam_i = sp.symbols("g beta N s_k lam_i", positive=True)
    v = s_k**2 * lam_i / N
    dens = sp.exp(-s_i**2 / (2 * v)) / sp.sqrt(2 * sp.pi * v)
    integral = sp.integrate(dens * sp.exp(-beta * N * (g**2 * s_i**2 - 2 * g * e_i * s_i) / 2),
                            (s_i, -sp.oo, sp.oo), conds="none")
    x_i = beta * s_k**2 * g**2 * lam_i
    closed = (1 + x_i) ** sp.Rational(-1, 2) * sp.exp(beta * N * e_i**2 * x_i / (2 * (1 + x_i)))
    return dict(integral=integral, closed_form=closed, x_i=x_i,
                symbols=(s_i, e_i, g, beta, N, s_k, lam_i))


def linear_reduced_terms():
    """The pieces of the keys-integrated log posterior of linear attention, whitened data (§2.4).

    log p(lam, rho, g) = sum_i mode(lam_i) + sum_{i<j} log|lam_i - lam_j| + value(rho, g), with

        mode(lam) = (N-L-1)/2 log lam - N lam/(2 s_q^2) - (L/2) log(1 + x) - beta N/(2 (1 + x)),
        value(rho, g) = (N-3)/2 log rho - N rho/(2 s_u^2) - N g^2/(2 s_v^2 rho),
        x = beta s_k^2 g^2 lam

    (the eigenvalue density of G_Q = Q Q^T / N times the key integral of
    ``linear_reduced_mode_factor``, and the density of rho = |u|^2/N times the prior of g given rho),
    and E[w | lam, g] = (1/L) sum_i w_mode(lam_i), w_mode = x/(1 + x).  L is a symbol here.

    Returns
    -------
    dict
        ``mode``, ``value``, ``w_mode`` and ``symbols`` = (lam, rho, g, N, beta, L, s_q, s_k, s_u, s_v).
    """
    lam, rho, N, beta, L, s_q, s_k, s_u, s_v = sp.symbols("lam rho N beta L s_q s_k s_u s_v", positive=True)
    g = sp.Symbol("g", real=True)
    x = beta * s_k**2 * g**2 * lam
    mode = (N - L - 1) / 2 * sp.log(lam) - N * lam / (2 * s_q**2) - L / 2 * sp.log(1 + x) - beta * N / (2 * (1 + x))
    value = (N - 3) / 2 * sp.log(rho) - N * rho / (2 * s_u**2) - N * g**2 / (2 * s_v**2 * rho)
    return dict(mode=mode, value=value, w_mode=x / (1 + x), symbols=(lam, rho, g, N, beta, L, s_q, s_k, s_u, s_v))


def linear_reduced_log_posterior(L: int):
    """Exact (L+2)-dim log posterior of linear attention, keys integrated out, whitened data (§2.4).

    Variables: eigenvalues lam_1..lam_L of G_Q = Q Q^T / N, rho = |u|^2/N, g; parameters N, beta,
    s_q, s_k, s_u, s_v.  Flat measure in (lam, rho, g), up to an additive constant.  Also returns the
    posterior mean of w = g kappa_hat given (lam, g): (1/L) sum_i x_i / (1 + x_i).  Assembled from
    ``linear_reduced_terms`` at the integer L.
    """
    t = linear_reduced_terms()
    lam1, rho, g, N, beta, Ls, s_q, s_k, s_u, s_v = t["symbols"]
    lam = sp.symbols(f"lam1:{L + 1}", positive=True)
    mode, w_mode = t["mode"].subs(Ls, L), t["w_mode"]
    logp = sum(mode.subs(lam1, li) for li in lam)
    logp += sum(sp.log(sp.Abs(lam[i] - lam[j])) for i in range(L) for j in range(i + 1, L))
    logp += t["value"]
    w_mean = sum(w_mode.subs(lam1, li) for li in lam) / L
    return dict(log_posterior=logp, w_mean=w_mean, symbols=(lam, rho, g, N, beta, s_q, s_k, s_u, s_v))


def linear_reduced_large_n():
    """Large-N form of §2.4 (§4 end): F(lam, g) = L[lam/(2 s_q^2) - log(lam)/2] + h(g; s_uv)
    + (beta L / 2) / (1 + beta s_k^2 g^2 lam), per N, with the constant making F(s_q^2, 0) = beta L/2
    + L (1 - log s_q^2) / 2.  Its minimum over lam equals min over kappa of f_l (checked numerically)."""
    S = symbols()
    lam, s_q, s_k = sp.symbols("lam s_q s_k", positive=True)
    F = (S["L"] * (lam / (2 * s_q**2) - sp.log(lam) / 2) + cramer_rate(S["g"], S["s_uv"])
         + S["beta"] * S["L"] / 2 / (1 + S["beta"] * s_k**2 * S["g"]**2 * lam))
    return dict(F=F, symbols=(lam, s_q, s_k))


# --------------------------------------------------------------------------- reduced free energies (§4)

def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def entropy(kind: str, rate=cramer_rate) -> sp.Expr:
    """Entropic (prior) part of the reduced free energy: (L-1) h(kappa) + h(g) for softmax (the
    ansatz has L-1 singular values |kappa|), L h(kappa) + h(g) for linear (L singular values).

    ``rate(x, s)`` replaces h, e.g. by an undefined function so that derivatives can be given
    their simplified closed forms (as the code generator does)."""
    _check_kind(kind)
    S = symbols()
    mult = S["L"] - 1 if kind == "softmax" else S["L"]
    return mult * rate(S["kappa"], S["s_qk"]) + rate(S["g"], S["s_uv"])


def loss(kind: str) -> sp.Expr:
    """Per-position population loss on the ansatz: 1 - 2 g c + g^2 r (softmax; see the comment for
    the form used), (1 - g kappa)^2 (linear).  The free energy carries it as beta (L/2) loss = (beta/2) l(S, g)."""
    _check_kind(kind)
    S = symbols()
    if kind == "softmax":
        # 1 - 2 g c + g^2 r written as (1 - g c)^2 + g^2 (1 - c)^2 / (L - 1): no cancellation on
        # the copy branch (c -> 1, g -> 1); identical by r = c^2 + (1 - c)^2 / (L - 1).
        c, d = softmax_copy_weight(S["kappa"], S["L"])
        return (1 - S["g"] * c) ** 2 + S["g"]**2 * d**2 / (S["L"] - 1)
    return (1 - S["g"] * S["kappa"]) ** 2


def free_energy(kind: str, rate=cramer_rate) -> sp.Expr:
    """f_s(kappa, g) or f_l(kappa, g) = entropy + (beta L / 2) loss (§4)."""
    S = symbols()
    return entropy(kind, rate) + S["beta"] * S["L"] / 2 * loss(kind)


def gradient(kind: str) -> list[sp.Expr]:
    """[d f / d kappa, d f / d g]: the saddle-point equations are gradient = 0."""
    S = symbols()
    f = free_energy(kind)
    return [sp.diff(f, S["kappa"]), sp.diff(f, S["g"])]


def hessian(kind: str) -> sp.Matrix:
    """2x2 Hessian of f in (kappa, g); its smallest eigenvalue decides stability."""
    S = symbols()
    return sp.hessian(free_energy(kind), (S["kappa"], S["g"]))


def saddle_equations_spec(kind: str) -> list[sp.Expr]:
    """The saddle equations exactly as §4 writes them, as 'lhs - rhs'.

    softmax: (L-1) kappa/(s_qk^2 t_kappa) - beta L g c (1-c) [1 - g (L c - 1)/(L-1)],
             g/(s_uv^2 t_g) - beta L (c - g r);
    linear:  L kappa/(s_qk^2 t_kappa) - beta L g (1 - g kappa),  g/(s_uv^2 t_g) - beta L kappa (1 - g kappa).
    """
    _check_kind(kind)
    S = symbols()
    k, g, b, L = S["kappa"], S["g"], S["beta"], S["L"]
    hk = cramer_rate_derivative(k, S["s_qk"])
    hg = cramer_rate_derivative(g, S["s_uv"])
    if kind == "softmax":
        c, d = softmax_copy_weight(k, L)
        r = softmax_row_square_sum(k, L)
        return [(L - 1) * hk - b * L * g * c * d * (1 - g * (L * c - 1) / (L - 1)),
                hg - b * L * (c - g * r)]
    return [L * hk - b * L * g * (1 - g * k), hg - b * L * k * (1 - g * k)]


# --------------------------------------------------------------------------- linear attention: the pitchfork (§4)

def linear_beta_c() -> sp.Expr:
    """beta_c = 1/(sqrt(L) s_qk s_uv): where det Hessian of f_l at kappa = g = 0 vanishes."""
    S = symbols()
    H0 = hessian("linear").subs({S["kappa"]: 0, S["g"]: 0})
    sol = sp.solve(sp.Eq(sp.simplify(H0.det()), 0), S["beta"])
    return [s for s in sol if s.is_positive is not False][0]


def linear_kappa_scale2() -> sp.Expr:
    """k0^2 = s_qk / (sqrt(L) s_uv): the ratio kappa/g along the null vector of the Hessian of f_l at
    the pitchfork (kappa = g = 0, beta = beta_c), §4.  The natural scales of the linear copy branch
    are kappa ~ k0 and g ~ 1/k0 (so that w = g kappa ~ 1)."""
    S = symbols()
    H0 = hessian("linear").subs({S["kappa"]: 0, S["g"]: 0, S["beta"]: linear_beta_c()})
    return sp.simplify(-H0[0, 1] / H0[0, 0])


def _linear_branch_series(order: int = 4):
    """Series of the non-trivial linear branch: g(kappa) from g h'(g) = L kappa h'(kappa) and
    beta(kappa) = h'(kappa) / (g (1 - g kappa)), with s = s_qk s_uv eliminated via s_uv = s / s_qk."""
    S = symbols()
    k, L, sqk = S["kappa"], S["L"], S["s_qk"]
    s = sp.Symbol("s", positive=True)
    suv = s / sqk
    a1, a3 = sp.symbols("a1 a3", real=True)
    g = a1 * k + a3 * k**3
    eq = sp.series(g * cramer_rate_derivative(g, suv) - L * k * cramer_rate_derivative(k, sqk), k, 0, 5).removeO()
    c2 = sp.expand(eq).coeff(k, 2)
    a1_sol = [v for v in sp.solve(c2, a1) if v.is_positive is not False][0]
    c4 = sp.expand(eq.subs(a1, a1_sol)).coeff(k, 4)
    a3_sol = sp.solve(c4, a3)[0]
    g_series = a1_sol * k + a3_sol * k**3
    beta = cramer_rate_derivative(k, sqk) / (g_series * (1 - g_series * k))
    return sp.series(beta, k, 0, order).removeO(), s


def linear_branch_B2() -> sp.Expr:
    """B2 in beta = beta_c + B2 kappa^2 + ... on the non-trivial linear branch (§4), in s = s_qk s_uv.

    §4: B2 = (2 sqrt(L) s - L - 1) / (2 sqrt(L) s_qk^3 s_uv)."""
    S = symbols()
    ser, s = _linear_branch_series()
    return sp.simplify(ser.coeff(S["kappa"], 2).subs(s, S["s_qk"] * S["s_uv"]))


def linear_landau_quartic() -> sp.Expr:
    """Quartic coefficient of min over the stable direction of f_l at beta = beta_c, along the null
    mode kappa (g eliminated to second order in kappa).  Its sign decides the order; §4 says it
    is proportional to (2 L^{3/2} s - L^2 - L) / 4."""
    S = symbols()
    k, g = S["kappa"], S["g"]
    f = free_energy("linear").subs(S["beta"], linear_beta_c())
    b1, b3 = sp.symbols("b1 b3", real=True)
    ff = sp.series(f.subs(g, b1 * k + b3 * k**3), k, 0, 5).removeO()
    b1_sol = sp.solve(sp.diff(ff.coeff(k, 2), b1), b1)[0]
    # At the critical point the quadratic coefficient vanishes on the null direction, and the
    # cubic correction b3 enters the quartic only through the (vanishing) linear term.
    ff1 = sp.expand(ff.subs(b1, b1_sol))
    assert sp.simplify(ff1.coeff(k, 2)) == 0
    return sp.simplify(ff1.coeff(k, 4))


def linear_tricritical_s() -> sp.Expr:
    """s_tc(L) = (1 + L) / (2 sqrt(L)): where B2 changes sign (§4)."""
    S = symbols()
    s = sp.Symbol("s", positive=True)
    B2 = linear_branch_B2().subs(S["s_uv"], s / S["s_qk"])
    return sp.solve(sp.numer(sp.together(B2)), s)[0]


# --------------------------------------------------------------------------- MAP (§9)

def map_free_energy(kind: str) -> sp.Expr:
    """Large-N MAP objective for kappa, g >= 0 (nuclear norms replace the Cramér rates, §9):
    softmax (L-1) kappa/s_qk + g/s_uv + (beta L/2)(1 - 2gc + g^2 r); linear L kappa/s_qk + g/s_uv
    + (beta L/2)(1 - g kappa)^2."""
    _check_kind(kind)
    S = symbols()
    mult = S["L"] - 1 if kind == "softmax" else S["L"]
    return mult * S["kappa"] / S["s_qk"] + S["g"] / S["s_uv"] + S["beta"] * S["L"] / 2 * loss(kind)


def map_optimal_gain(kind: str) -> sp.Expr:
    """The MAP objective is quadratic in g: its minimiser at fixed kappa, before clipping at g >= 0.

    softmax g* = (beta L c - 1/s_uv) / (beta L r); linear g* = (beta L kappa - 1/s_uv) / (beta L kappa^2).
    """
    S = symbols()
    f = map_free_energy(kind)
    df = sp.diff(f, S["g"])  # = a g + b
    return -df.subs(S["g"], 0) / sp.diff(df, S["g"])


def softmax_map_threshold() -> dict:
    """MAP threshold of softmax attention (§9), derived.

    At kappa = 0 the MAP value gain is g0 = 1 - 1/(beta s_uv) (for beta s_uv > 1), and the one-sided
    slope d f / d kappa (0+) = (L-1)(1/s_qk - beta g0 / L).  The uniform point is a strict local
    minimum while that slope is positive, i.e. beta g0 < L / s_qk; it stops being one at
    beta_MAP = L / s_qk + 1 / s_uv.  Returns g0, the slope and beta_MAP.
    """
    S = symbols()
    k, g, b = S["kappa"], S["g"], S["beta"]
    f = map_free_energy("softmax")
    g0 = sp.solve(sp.diff(f.subs(k, 0), g), g)[0]
    slope = sp.simplify(sp.diff(f, k).subs(k, 0).subs(g, g0))
    beta_map = sp.solve(sp.Eq(slope, 0), b)[0]
    return dict(g0=sp.simplify(g0), slope=slope, beta_map=sp.simplify(beta_map))
