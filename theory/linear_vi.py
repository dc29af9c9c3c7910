"""SymPy derivations for the Bayesian linear model of delayed generalisation.

Reference: Qchohi & Rossi, arXiv 2604.12434 (2026), Section 5 and Appendix C, building on
Levi, Beck & Bar-Sinai, ICLR 2024 (arXiv 2310.16441). Bracketed numbers are that paper's
equation numbers; the model is described in ``docs/linear_vi.md``.

Every function returns SymPy objects; nothing here touches NumPy.  The numeric code in
``grokphase.numerics`` is generated from (or tested against) these expressions.

Model (``docs/linear_vi.md`` §1): rows x_i ~ N(0, I_d), lam = d/n < 1, A = X^T X / sigma^2 + I/tau^2,
b = X^T y / sigma^2.  Gaussian VI q_t = N(mu_t, Sigma_t) follows the Bures-Wasserstein
gradient flow of KL(q || posterior):

    d mu / dt = b - A mu                      [3]
    d Sigma / dt = 2 I - A Sigma - Sigma A    [4]

Symbols used throughout (all positive unless stated):

    a        eigenvalue of A in one eigenmode, a = Nbar * nu + iota_p
    Nbar     n / sigma^2 (``n_over_sigma2``)
    iota_p   1 / tau^2 (``inv_tau2``, may be zero: flat prior)
    nu       eigenvalue of the sample covariance X^T X / n
    lam      aspect ratio d / n
    eps      success threshold on the squared residual
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "symbols",
    "flow_odes_mode",
    "flow_solution_mode",
    "flow_residuals_mode",
    "flow_residuals_matrix_2x2",
    "spectral_risk_identity_2x2",
    "mp_density",
    "mp_edges",
    "mp_theta_substitution",
    "emp_laplace_closed_form",
    "edge_substitution",
    "edge_expansion",
    "kappa",
    "K_emp",
    "K_gen",
    "delay_asymptotic",
    "laplace_crossing_time",
    "accuracy_closure",
    "accuracy_level_for",
    "eu_peak_level",
    "binary_entropy",
    "eu_regression",
    "levi_gd_delay",
]

t = sp.Symbol("t", nonnegative=True)
a = sp.Symbol("a", positive=True)
nu = sp.Symbol("nu", positive=True)
lam = sp.Symbol("lam", positive=True)
Nbar = sp.Symbol("Nbar", positive=True)
iota_p = sp.Symbol("iota_p", nonnegative=True)
eps = sp.Symbol("eps", positive=True)
C0 = sp.Symbol("C0", positive=True)
L = sp.Symbol("L", positive=True)  # an excess risk value
nu_minus = sp.Symbol("nu_minus", positive=True)  # lower MP edge (1 - sqrt(lam))^2, kept symbolic


def symbols() -> dict[str, sp.Symbol]:
    """The shared symbols, by name, so that callers substitute into the same objects."""
    return dict(t=t, a=a, nu=nu, lam=lam, Nbar=Nbar, iota_p=iota_p, eps=eps, C0=C0, L=L,
                nu_minus=nu_minus)


def edge_substitution() -> dict:
    """{nu_minus: (1 - sqrt(lam))^2}.

    The late-time results below are stated in terms of the lower edge nu_minus: SymPy would
    otherwise expand lam (1 - sqrt lam)^2 into lam^2 - 2 lam^{3/2} + lam, which cancels
    catastrophically in floating point as lam -> 1.  Substitute this to get functions of lam.
    """
    return {nu_minus: mp_edges()[0]}


# --------------------------------------------------------------------------------------
# Section 2: the flow and its exact solution
# --------------------------------------------------------------------------------------

def flow_odes_mode():
    """ODEs [3]-[4] in one eigenmode of A: returns (mu(t), s(t), b, rhs_mu, rhs_s).

    In the eigenbasis of A the mean obeys mu' = b - a mu and a diagonal covariance entry
    obeys s' = 2 - 2 a s (both A Sigma and Sigma A contribute a s).
    """
    mu = sp.Function("mu")(t)
    s = sp.Function("s")(t)
    b = sp.Symbol("b", real=True)
    return mu, s, b, b - a * mu, 2 - 2 * a * s


def flow_solution_mode():
    """Exact solution of [3]-[4] per eigenmode: (mu_t, s_t) with initial values mu0, s0.

    mu_t = mu_inf + e^{-a t}(mu0 - mu_inf), mu_inf = b/a;
    s_t  = s_inf + e^{-2 a t}(s0 - s_inf),  s_inf = 1/a   (covariance relaxes twice as fast).
    """
    b = sp.Symbol("b", real=True)
    mu0, s0 = sp.symbols("mu0 s0", real=True)
    mu_t = b / a + sp.exp(-a * t) * (mu0 - b / a)
    s_t = 1 / a + sp.exp(-2 * a * t) * (s0 - 1 / a)
    return mu_t, s_t


def flow_residuals_mode():
    """Substitute the solution into the ODEs; returns the residuals and initial-value errors.

    Both residuals simplify to 0, and the solution starts at (mu0, s0).

    >>> [sp.simplify(r) for r in flow_residuals_mode()]
    [0, 0, 0, 0]
    """
    b = sp.Symbol("b", real=True)
    mu0, s0 = sp.symbols("mu0 s0", real=True)
    mu_t, s_t = flow_solution_mode()
    r_mu = sp.diff(mu_t, t) - (b - a * mu_t)
    r_s = sp.diff(s_t, t) - (2 - 2 * a * s_t)
    return r_mu, r_s, mu_t.subs(t, 0) - mu0, s_t.subs(t, 0) - s0


def _cayley_rotation(c):
    """A rational parametrisation of SO(2): U = (I - K)(I + K)^{-1}, K = [[0, c], [-c, 0]]."""
    return sp.Matrix([[1 - c**2, -2 * c], [2 * c, 1 - c**2]]) / (1 + c**2)


def flow_residuals_matrix_2x2():
    """Matrix check of the exact solution for a general symmetric positive 2x2 A.

    A = U diag(a1, a2) U^T with U a rotation, so e^{-A t} = U diag(e^{-a1 t}, e^{-a2 t}) U^T.
    With a general b, mu0 and symmetric Sigma0, substitute

        mu_t = mu_inf + e^{-At}(mu0 - mu_inf),  Sigma_t = Sigma_inf + e^{-At}(Sigma0 - Sigma_inf)e^{-At}

    into [3]-[4]; returns the two residual matrices (each simplifies to zero).
    """
    a1, a2 = sp.symbols("a1 a2", positive=True)
    c = sp.Symbol("c", real=True)
    b1, b2, m1, m2, p11, p12, p22 = sp.symbols("b1 b2 m1 m2 p11 p12 p22", real=True)
    U = _cayley_rotation(c)
    A = U * sp.diag(a1, a2) * U.T
    E = U * sp.diag(sp.exp(-a1 * t), sp.exp(-a2 * t)) * U.T
    Ainv = U * sp.diag(1 / a1, 1 / a2) * U.T
    b = sp.Matrix([b1, b2])
    mu0 = sp.Matrix([m1, m2])
    S0 = sp.Matrix([[p11, p12], [p12, p22]])
    mu_inf = Ainv * b
    mu_t = mu_inf + E * (mu0 - mu_inf)
    S_t = Ainv + E * (S0 - Ainv) * E
    r_mu = mu_t.diff(t) - (b - A * mu_t)
    r_S = S_t.diff(t) - (2 * sp.eye(2) - A * S_t - S_t * A)
    return r_mu.applyfunc(sp.simplify), r_S.applyfunc(sp.simplify)


# --------------------------------------------------------------------------------------
# Section 3: risks in spectral form, general (non-matched) case
# --------------------------------------------------------------------------------------

def spectral_risk_identity_2x2():
    """Derive the spectral excess risks from the matrix risks [49]-[50] (2x2 case).

    Matrix forms (population covariance Sigma_x = I):

        L_emp(t) = (1/2n)(||y - X mu_t||^2 + Tr(X^T X Sigma_t))                      [49]
        L_gen(t) = 1/2((mu_t - w*)^T (mu_t - w*) + Tr(Sigma_t) + sigma_eps^2)         [50]

    Everything is expressed through Sigma_hat = X^T X/n = U diag(nu) U^T, b = X^T y/sigma^2 and
    ||y||^2.  With E_i = e^{-a_i t}, dbar = U^T(mu0 - mu_inf), Sbar = U^T(Sigma0 - Sigma_inf)U,
    mbar = U^T mu_inf and ebar = U^T(mu_inf - w*), the claimed general spectral form is

        L_emp(t) - L_emp(inf) = sum_i [ 1/2 nu_i (dbar_i^2 + Sbar_ii) E_i^2
                                        - (iota_p / Nbar) mbar_i dbar_i E_i ]          [54]
        L_gen(t) - L_gen(inf) = sum_i [ 1/2 (dbar_i^2 + Sbar_ii) E_i^2 + ebar_i dbar_i E_i ]   [55]

    The cross terms vanish in the matched regime (flat prior, mu_inf = w*), giving [66]-[67].
    Returns the two differences (claimed minus derived); both simplify to zero.
    """
    n, sigma2 = sp.symbols("n sigma2", positive=True)
    nu1, nu2 = sp.symbols("nu1 nu2", positive=True)
    E1, E2 = sp.symbols("E1 E2", positive=True)
    c = sp.Symbol("c", real=True)
    b1, b2, d1, d2, q11, q12, q22, w1, w2, yy, se2 = sp.symbols(
        "b1 b2 d1 d2 q11 q12 q22 w1 w2 yy se2", real=True)
    U = _cayley_rotation(c)
    nus = (nu1, nu2)
    avals = [n / sigma2 * v + iota_p for v in nus]
    Shat = U * sp.diag(*nus) * U.T
    Ainv = U * sp.diag(*[1 / v for v in avals]) * U.T
    E = U * sp.diag(E1, E2) * U.T
    b = sp.Matrix([b1, b2])
    wstar = sp.Matrix([w1, w2])
    mu_inf = Ainv * b
    delta0 = U * sp.Matrix([d1, d2])                       # mu0 - mu_inf, given in eigenbasis
    S0 = U * sp.Matrix([[q11, q12], [q12, q22]]) * U.T     # Sigma0 - Sigma_inf
    XtX = n * Shat
    Xty = sigma2 * b

    def risks(mu, Sig):
        emp = (yy - 2 * (Xty.T * mu)[0] + (mu.T * XtX * mu)[0] + (XtX * Sig).trace()) / (2 * n)
        dev = mu - wstar
        gen = ((dev.T * dev)[0] + Sig.trace() + se2) / 2
        return emp, gen

    emp_t, gen_t = risks(mu_inf + E * delta0, Ainv + E * S0 * E)
    emp_inf, gen_inf = risks(mu_inf, Ainv)
    mbar = U.T * mu_inf
    ebar = U.T * (mu_inf - wstar)
    dbar = (d1, d2)
    Sdiag = (q11, q22)
    Es = (E1, E2)
    claim_emp = sum(nus[i] * (dbar[i] ** 2 + Sdiag[i]) * Es[i] ** 2 / 2
                    - iota_p * sigma2 / n * mbar[i] * dbar[i] * Es[i] for i in range(2))
    claim_gen = sum((dbar[i] ** 2 + Sdiag[i]) * Es[i] ** 2 / 2 + ebar[i] * dbar[i] * Es[i]
                    for i in range(2))
    return (sp.simplify(claim_emp - (emp_t - emp_inf)),
            sp.simplify(claim_gen - (gen_t - gen_inf)))


# --------------------------------------------------------------------------------------
# Section 4: Marchenko-Pastur limit
# --------------------------------------------------------------------------------------

def mp_edges():
    """(nu_minus, nu_plus) = ((1 - sqrt(lam))^2, (1 + sqrt(lam))^2)."""
    return (1 - sp.sqrt(lam)) ** 2, (1 + sp.sqrt(lam)) ** 2


def mp_density():
    """Marchenko-Pastur density p(nu) = sqrt((nu+ - nu)(nu - nu-)) / (2 pi lam nu) on [nu-, nu+]."""
    lo, hi = mp_edges()
    return sp.sqrt((hi - nu) * (nu - lo)) / (2 * sp.pi * lam * nu)


def mp_theta_substitution():
    """The substitution used by the quadrature: nu = nu- + Delta sin^2(theta/2), theta in [0, pi].

    With Delta = nu+ - nu- = 4 sqrt(lam), p(nu) d nu = (2/pi) sin^2(theta) / nu(theta) d theta:
    both square-root edges become smooth.  Returns (nu(theta), p(nu) dnu/dtheta, theta); the
    second item simplifies to (2/pi) sin^2(theta)/nu(theta) (see the tests).
    """
    th = sp.Symbol("theta", positive=True)
    lo, hi = mp_edges()
    nu_th = lo + (hi - lo) * sp.sin(th / 2) ** 2
    jac = mp_density().subs(nu, nu_th) * sp.diff(nu_th, th)
    return nu_th, jac, th


def emp_laplace_closed_form():
    """E_MP[nu e^{-x nu}] = e^{-(1+lam) x} I_1(2 sqrt(lam) x) / (sqrt(lam) x), x = 2 Nbar t.

    Derivation: in the variable s = (nu - nu-)/Delta the factor nu cancels the density's 1/nu,
    leaving (8/pi) int_0^1 sqrt(s(1-s)) e^{-x nu} ds, a Bessel integral.  Returns the expression in
    the symbol ``x``; it is the independent check of the numerical emp quadrature.
    """
    x = sp.Symbol("x", positive=True)
    return sp.exp(-(1 + lam) * x) * sp.besseli(1, 2 * sp.sqrt(lam) * x) / (sp.sqrt(lam) * x)


def edge_expansion(power: int):
    """Laplace's method at the lower MP edge: E[nu^power e^{-x nu}] ~ K x^{-3/2} e^{-x nu_-}.

    Near nu_- the density is p ~ sqrt(Delta (nu - nu_-)) / (2 pi lam nu_-), Delta = 4 sqrt(lam);
    integrating sqrt(u) e^{-x u} over u >= 0 gives Gamma(3/2) x^{-3/2}.  Returns the prefactor
    K(lam, nu_minus) derived by that integral (not typed in):
    K = nu_minus^(power-1) lam^(-3/4) / (2 sqrt(pi)).
    """
    u = sp.Symbol("u", positive=True)
    x = sp.Symbol("x", positive=True)
    leading_density = sp.sqrt(4 * sp.sqrt(lam) * u) / (2 * sp.pi * lam * nu_minus)
    integral = sp.integrate(nu_minus**power * leading_density * sp.exp(-x * u), (u, 0, sp.oo))
    return sp.simplify(integral * x ** sp.Rational(3, 2))


def kappa():
    """Late-time decay rate kappa = 2 (Nbar nu_minus + 1/tau^2), nu_minus = (1 - sqrt lam)^2 (Thm C.2)."""
    return 2 * (Nbar * nu_minus + iota_p)


def _K(power: int):
    # E[nu^p e^{-2(Nbar nu + iota) t}] with x = 2 Nbar t:  K_p x^{-3/2} e^{-kappa t}
    return C0 * edge_expansion(power) * (2 * Nbar) ** sp.Rational(-3, 2)


def K_emp():
    """Prefactor of L_emp ~ K_emp t^{-3/2} e^{-kappa t} [73]: C0 lam^{-3/4} / (2 sqrt(pi) (2 Nbar)^{3/2})."""
    return sp.simplify(_K(1))


def K_gen():
    """Prefactor of L_gen ~ K_gen t^{-3/2} e^{-kappa t} [74]; K_gen / K_emp = 1/nu_minus [78]."""
    return sp.simplify(_K(0))


def delay_asymptotic():
    """Leading-order delay [80]: log(1/nu_minus) / kappa = log(1/(1 - sqrt lam)) / (Nbar (1 - sqrt lam)^2 + 1/tau^2).

    Derived, not typed: both curves cross a level at K t^{-3/2} e^{-kappa t} = level; the
    difference of the log-equations gives kappa Dt + 3/2 log(t_gen/t_emp) = log(K_gen/K_emp),
    whose leading order (t_gen/t_emp -> 1) is Dt = log(K_gen/K_emp) / kappa.  In nu_minus.
    """
    return sp.simplify(sp.expand_log(sp.log(sp.simplify(K_gen() / K_emp())), force=True) / kappa())


def laplace_crossing_time(K, level):
    """Time at which K t^{-3/2} e^{-kappa t} = level, in closed form via Lambert W.

    kappa t + 3/2 log t = log(K/level)  <=>  u e^u = (2 kappa / 3)(K/level)^{2/3},  u = 2 kappa t / 3.
    Exact for the asymptotic curve; the principal branch is the late-time root.
    """
    k = kappa()
    return 3 / (2 * k) * sp.LambertW(2 * k / 3 * (K / level) ** sp.Rational(2, 3))


# --------------------------------------------------------------------------------------
# Section 6: accuracy and uncertainty
# --------------------------------------------------------------------------------------

def accuracy_closure():
    """Late-time accuracy closure [95]: P(r^2 <= eps) for r ~ N(0, 2 L), i.e. erf(sqrt(eps / (4 L))).

    Derived by integrating the Gaussian density of the residual over [-sqrt(eps), sqrt(eps)]
    (E[r^2]/2 = L is the excess risk).
    """
    r = sp.Symbol("r", real=True)
    var = 2 * L
    dens = sp.exp(-r**2 / (2 * var)) / sp.sqrt(2 * sp.pi * var)
    return sp.simplify(sp.integrate(dens, (r, -sp.sqrt(eps), sp.sqrt(eps))))


def accuracy_level_for(p):
    """Excess-risk level at which the closure [95] equals p: L = eps / (4 erfinv(p)^2).

    p = erf(sqrt 2) gives the "95%" grokking level eps/8.
    """
    return eps / (4 * sp.erfinv(p) ** 2)


def binary_entropy(p):
    """h2(p) = -p log p - (1-p) log(1-p), in nats."""
    return -p * sp.log(p) - (1 - p) * sp.log(1 - p)


def eu_peak_level():
    """Level of the thresholded-EU peak [12]: maximise h2 over p (p = 1/2), then invert [95].

    Returns (p_star, L_peak / eps) with L_peak/eps = 1 / (4 erfinv(1/2)^2) = 1.0991...
    """
    p = sp.Symbol("p", positive=True)
    p_star = sp.solve(sp.diff(binary_entropy(p), p), p)
    (p_star,) = p_star
    return p_star, sp.simplify(accuracy_level_for(p_star) / eps)


def eu_regression():
    """Regression-level epistemic uncertainty [92]: 1/2 log(1 + v / sigma_eps^2), v = x^T Sigma_t x.

    Returns (expression, v, sigma_eps2).  It is strictly increasing in v, hence monotone in t
    whenever v(t) is (the covariance relaxes monotonically): no peak.
    """
    v, se2 = sp.symbols("v sigma_eps2", positive=True)
    return sp.log(1 + v / se2) / 2, v, se2


def levi_gd_delay():
    """Levi et al.'s gradient-descent delay log(1/(1 - sqrt(lam))) / (2 eta0 (1 - sqrt(lam))^2).

    Their loss (1/n)||y - Xw||^2 has gradient 2 Sigma_hat (w - w*), so gradient flow with rate
    eta0 is the VI mean flow with Nbar = 2 eta0 and a flat prior.  Returns (expr, eta0).
    """
    eta0 = sp.Symbol("eta0", positive=True)
    return delay_asymptotic().subs({Nbar: 2 * eta0, iota_p: 0}), eta0   # in nu_minus
