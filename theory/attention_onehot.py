"""SymPy derivations for Bayesian single-layer attention copying one-hot tokens.

Model: ``docs/attention_onehot.md`` (the package's own second exactly solvable attention model;
section numbers § below are that file's).  It extends the Gaussian-token model of
``grokphase.theory.attention_copy`` (whose Cramér rate h and softmax copy weight c are reused, not
restated) to tokens x_l = e_{s_l} in R^V with s_l uniform on {1..V}, a matrix value path
W = O V^T / N in R^{V x V}, and the cyclic target y_l = x_{l-1}.

Conventions (shared with the Gaussian-token module):

* free energies are per N: f = (prior rates) + (beta / 2) l, with l the population loss summed over
  the L positions of one sequence, so that f = beta L / 2 at the origin of the linear model;
* ``prior`` selects the rate of the scores: ``"product"`` (S = Q K^T / N, the Cramér rate h of a
  product of Gaussian vectors, applied to the singular values of S) or ``"gaussian"`` (Gaussian
  logits of standard deviation s_qk: rate x^2 / (2 s_qk^2) per singular value, i.e. |S|_F^2 / 2 s_qk^2).
  The value path always has the product rate;
* order parameters: softmax S = kappa (Pi - J/L); linear S = kappa (Pi - J/L) + a J/L; value path
  W = g (I - J/V) + m J/V (§4).

Every function returns SymPy objects; the Numba kernels of ``grokphase.numerics.attention_onehot``
are generated from them by ``grokphase.numerics.attention_onehot_codegen``.

>>> S = symbols()
>>> sp.simplify(loss_on_ansatz("linear").subs({S["kappa"]: 0, S["a"]: 0, S["g"]: 0, S["m"]: 0}) - S["L"])
0
"""

from __future__ import annotations

import itertools

import sympy as sp

from grokphase.theory import attention_copy as G

__all__ = [
    "KINDS",
    "PRIORS",
    "symbols",
    "score_rate",
    "value_rate",
    "token_pair_moment",
    "population_loss_enumerated",
    "population_loss_rows",
    "value_path_ansatz",
    "linear_score_ansatz",
    "ansatz_singular_values",
    "loss_on_ansatz",
    "loss_on_ansatz_from_rows",
    "entropy",
    "free_energy",
    "softmax_copy_part",
    "softmax_mean_part",
    "softmax_generalised_gaussian_form",
    "softmax_v2_minus_gaussian_tokens",
    "linear_hessian_at_origin",
    "linear_beta_c_from_det",
    "linear_beta_c",
    "linear_null_vector",
    "linear_landau_quartic",
    "linear_tricritical_s",
]

KINDS = ("softmax", "linear")
PRIORS = ("product", "gaussian")


def symbols() -> dict[str, sp.Symbol]:
    """The symbols shared by every expression of this module."""
    kappa, a, g, m = sp.symbols("kappa a g m", real=True)
    beta, L, V, s_qk, s_uv = sp.symbols("beta L V s_qk s_uv", positive=True)
    return dict(kappa=kappa, a=a, g=g, m=m, beta=beta, L=L, V=V, s_qk=s_qk, s_uv=s_uv)


def _check(kind: str | None = None, prior: str | None = None) -> None:
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if prior is not None and prior not in PRIORS:
        raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")


def score_rate(x, s, prior: str = "product"):
    """Rate of one singular value x of the scores (§1, §3): h(x; s) (product) or x^2/(2 s^2) (Gaussian logits).

    >>> x, s = sp.symbols('x s', positive=True)
    >>> score_rate(x, s, 'gaussian')
    x**2/(2*s**2)
    """
    _check(prior=prior)
    if prior == "product":
        return G.cramer_rate(x, s)
    return x**2 / (2 * s**2)


def value_rate(x, s):
    """Rate of one singular value of W = O V^T / N: always the product rate h(x; s) (§3)."""
    return G.cramer_rate(x, s)


# --------------------------------------------------------------------------- the population loss (§3)

def token_pair_moment(V: int, same: bool) -> sp.Matrix:
    """E[x_m x_m'^T] for independent uniform one-hot tokens: I/V (m = m') or J/V^2 (m != m') (§3)."""
    return sp.eye(V) / V if same else sp.ones(V, V) / V**2


def population_loss_enumerated(A: sp.Matrix, W: sp.Matrix) -> sp.Expr:
    """E sum_l |y_l - W sum_m A_lm x_m|^2 by exact enumeration of all V^L token sequences (§3).

    Independent of the closed form: each sequence s in {0..V-1}^L is built explicitly, with the
    cyclic target y_l = x_{l-1}.  Cost V^L L^2 V^2; meant for L, V <= 3 or 4.
    """
    L, V = A.shape[0], W.shape[0]
    total = 0
    for seq in itertools.product(range(V), repeat=L):
        X = [sp.Matrix(V, 1, lambda i, _j, t=t: 1 if i == t else 0) for t in seq]
        for l in range(L):
            z = sum((A[l, m] * X[m] for m in range(L)), sp.zeros(V, 1))
            r = X[(l - 1) % L] - W * z
            total += (r.T * r)[0, 0]
    return sp.expand(total / sp.Integer(V) ** L)


def population_loss_rows(A: sp.Matrix, W: sp.Matrix) -> sp.Expr:
    """The closed form of §3 with a_l = sum_m A_lm, r_l = sum_m A_lm^2:

    l = sum_l [1 - 2 A_{l,l-1} (tr W/V - 1'W1/V^2) - 2 a_l 1'W1/V^2 + r_l (|W|_F^2/V - |W1|^2/V^2)
               + a_l^2 |W1|^2/V^2].
    """
    L, V = A.shape[0], W.shape[0]
    one = sp.ones(V, 1)
    trW = W.trace()
    sW = (one.T * W * one)[0, 0]
    fro = sum(w**2 for w in W)
    W1 = W * one
    nW1 = (W1.T * W1)[0, 0]
    out = 0
    for l in range(L):
        al = sum(A[l, m] for m in range(L))
        rl = sum(A[l, m] ** 2 for m in range(L))
        out += (1 - 2 * A[l, (l - 1) % L] * (trW / V - sW / V**2) - 2 * al * sW / V**2
                + rl * (fro / V - nW1 / V**2) + al**2 * nW1 / V**2)
    return sp.expand(out)


# --------------------------------------------------------------------------- the reductions (§4)

def value_path_ansatz(g, m, V: int) -> sp.Matrix:
    """W* = g (I - J/V) + m J/V (§4)."""
    return g * (sp.eye(V) - sp.ones(V, V) / V) + m * sp.ones(V, V) / V


def linear_score_ansatz(kappa, a, L: int) -> sp.Matrix:
    """S* = kappa (Pi - J/L) + a J/L (§4); a = 0 is the softmax copy form (there a J/L part is a gauge)."""
    return kappa * (G.cyclic_shift(L) - sp.ones(L, L) / L) + a * sp.ones(L, L) / L


def ansatz_singular_values(M: sp.Matrix) -> list:
    """Singular values of a concrete matrix, as the square roots of the eigenvalues of M^T M, sorted.

    For the ansatz W*: |g| (V - 1 times) and |m|; for S*: |kappa| (L - 1 times) and |a| (§4).
    """
    ev = (M.T * M).eigenvals()
    out = []
    for lam, mult in ev.items():
        out += [sp.sqrt(sp.factor(lam))] * mult
    return out


def loss_on_ansatz(kind: str) -> sp.Expr:
    """The population loss l (summed over positions) on the ansatz, as §5 / §6 write it.

    softmax: L (V-1)/V (1 - 2 g c + g^2 r) + (L/V)(1 - m)^2, with 1 - 2gc + g^2 r written as
    (1 - g c)^2 + g^2 (1 - c)^2/(L - 1) (as in the Gaussian-token module, no cancellation);
    linear: (V-1)/V [(L-1)(1 - g kappa)^2 + (1 - g a)^2] + (L/V)(1 - a m)^2.
    """
    _check(kind)
    S = symbols()
    k, a, g, m, L, V = (S[n] for n in ("kappa", "a", "g", "m", "L", "V"))
    if kind == "softmax":
        c, d = G.softmax_copy_weight(k, L)
        return L * (V - 1) / V * ((1 - g * c) ** 2 + g**2 * d**2 / (L - 1)) + L / V * (1 - m) ** 2
    return (V - 1) / V * ((L - 1) * (1 - g * k) ** 2 + (1 - g * a) ** 2) + L / V * (1 - a * m) ** 2


def loss_on_ansatz_from_rows(kind: str, L: int, V: int) -> sp.Expr:
    """population_loss_rows evaluated on the ansatz of §4 for concrete L, V (to compare with loss_on_ansatz).

    softmax: A = rowsoftmax(kappa (Pi - J/L)); linear: A = S*.
    """
    _check(kind)
    S = symbols()
    k, a, g, m = (S[n] for n in ("kappa", "a", "g", "m"))
    W = value_path_ansatz(g, m, V)
    if kind == "softmax":
        Sc = linear_score_ansatz(k, 0, L)
        A = sp.Matrix(L, L, lambda i, j: sp.exp(Sc[i, j]) / sum(sp.exp(Sc[i, q]) for q in range(L)))
    else:
        A = linear_score_ansatz(k, a, L)
    return population_loss_rows(A, W)


def entropy(kind: str, prior: str = "product", score=None, value=None) -> sp.Expr:
    """Prior rates on the ansatz (§4): (L-1) h_S(kappa) [+ h_S(a), linear] + (V-1) h(g) + h(m).

    ``score(x, s)`` / ``value(x, s)`` override the rates (e.g. by undefined functions, for codegen).
    """
    _check(kind, prior)
    S = symbols()
    hs = score or (lambda x, s: score_rate(x, s, prior))
    hv = value or value_rate
    k, a, g, m, L, V, sqk, suv = (S[n] for n in ("kappa", "a", "g", "m", "L", "V", "s_qk", "s_uv"))
    e = (L - 1) * hs(k, sqk) + (V - 1) * hv(g, suv) + hv(m, suv)
    if kind == "linear":
        e += hs(a, sqk)
    return e


def free_energy(kind: str, prior: str = "product", score=None, value=None) -> sp.Expr:
    """f_s(kappa, g, m) (§5) or f_l(kappa, a, g, m) (§6) = entropy + (beta/2) l."""
    S = symbols()
    return entropy(kind, prior, score, value) + S["beta"] / 2 * loss_on_ansatz(kind)


def softmax_mean_part(value=None) -> sp.Expr:
    """The decoupled mean-gain part of f_s: h(m) + (beta L / 2V)(1 - m)^2 (§5)."""
    S = symbols()
    hv = value or value_rate
    return hv(S["m"], S["s_uv"]) + S["beta"] * S["L"] / (2 * S["V"]) * (1 - S["m"]) ** 2


def softmax_copy_part(prior: str = "product", score=None, value=None) -> sp.Expr:
    """f_s minus its mean part: (L-1) h_S(kappa) + (V-1) h(g) + beta L (V-1)/(2V) (1 - 2gc + g^2 r) (§5).

    Built term by term (a test checks copy part + mean part == f_s)."""
    _check(prior=prior)
    S = symbols()
    hs = score or (lambda x, s: score_rate(x, s, prior))
    hv = value or value_rate
    L, V = S["L"], S["V"]
    return ((L - 1) * hs(S["kappa"], S["s_qk"]) + (V - 1) * hv(S["g"], S["s_uv"])
            + S["beta"] * L * (V - 1) / (2 * V) * G.loss("softmax"))


def softmax_generalised_gaussian_form(prior: str = "product") -> sp.Expr:
    """lam h_S(kappa) + h(g) + (beta/V)(L/2)(1 - 2gc + g^2 r) with lam = (L-1)/(V-1) (§5).

    This is softmax_copy_part / (V - 1): the Gaussian-token softmax free energy with its entropy
    weight L - 1 replaced by lam and beta by beta / V.  Only at V = 2 is lam = L - 1, so only there is
    it literally the Gaussian-token model (``softmax_v2_minus_gaussian_tokens``).
    """
    S = symbols()
    k, g, L, V, b = (S[n] for n in ("kappa", "g", "L", "V", "beta"))
    lam = (L - 1) / (V - 1)
    return lam * score_rate(k, S["s_qk"], prior) + value_rate(g, S["s_uv"]) + b / V * L / 2 * G.loss("softmax")


def softmax_v2_minus_gaussian_tokens() -> sp.Expr:
    """softmax_copy_part at V = 2 and beta, minus the Gaussian-token f_s at beta/2: identically 0 (§5)."""
    S = symbols()
    GS = G.symbols()
    ours = softmax_copy_part().subs(S["V"], 2)
    theirs = G.free_energy("softmax").subs(GS["beta"], GS["beta"] / 2)
    theirs = theirs.subs({GS[n]: S[n] for n in ("kappa", "g", "beta", "L", "s_qk", "s_uv")})
    return sp.simplify(ours - sp.expand(theirs))


# --------------------------------------------------------------------------- linear attention (§6)

def _lin_vars():
    S = symbols()
    return [S["kappa"], S["a"], S["g"], S["m"]]


def linear_hessian_at_origin(prior: str = "product") -> sp.Matrix:
    """4x4 Hessian of f_l at kappa = a = g = m = 0, variables ordered (kappa, a, g, m).

    diag((L-1)/s_qk^2, 1/s_qk^2, (V-1)/s_uv^2, 1/s_uv^2) with the chain couplings
    f_{kappa g} = -beta (L-1)(V-1)/V, f_{a g} = -beta (V-1)/V, f_{a m} = -beta L/V (§6).
    Independent of the score prior (both rates are x^2/2s^2 + O(x^4)).
    """
    f = free_energy("linear", prior)
    x = _lin_vars()
    H = sp.hessian(f, x)
    return sp.simplify(H.subs({v: 0 for v in x}))


def linear_beta_c_from_det(prior: str = "product") -> list:
    """The positive roots beta of det H(0) = 0 (§6), from SymPy's solve (det is a quadratic in beta^2).

    The smaller one is beta_c (the origin loses stability there); tests compare it with ``linear_beta_c``."""
    S = symbols()
    H = linear_hessian_at_origin(prior)
    y = sp.Symbol("y", positive=True)  # y = beta^2
    det = sp.expand(H.det())
    poly = sp.expand(det.subs(S["beta"], sp.sqrt(y)))
    roots = sp.solve(sp.Eq(poly, 0), y)
    return [sp.sqrt(r_) for r_ in roots]


def linear_beta_c() -> sp.Expr:
    """beta_c = V / (s sqrt(L mu)), mu = [(A + B + 1) + sqrt((A - B)^2 + 2(A + B) + 1)]/2,
    A = V - 1, B = L - 1, s = s_qk s_uv (§6)."""
    S = symbols()
    L, V = S["L"], S["V"]
    A, B = V - 1, L - 1
    mu = ((A + B + 1) + sp.sqrt((A - B) ** 2 + 2 * (A + B) + 1)) / 2
    return V / (S["s_qk"] * S["s_uv"] * sp.sqrt(L * mu))


def linear_null_vector() -> dict:
    """Null vector of H(0) at beta_c in scaled coordinates u = (kappa/s_qk, a/s_qk, g/s_uv, m/s_uv) (§6).

    In these coordinates H = diag(L-1, 1, V-1, 1) - x C with x = beta s_qk s_uv and the chain
    couplings C; with u_g = 1 the rows for kappa, g and m fix u_kappa = x (V-1)/V, u_a and
    u_m = x L u_a / V; the remaining row (``last_row``) vanishes exactly at x_c = beta_c s_qk s_uv.
    Returns the components as functions of the symbol x, that row, and x_c.
    """
    S = symbols()
    L, V = S["L"], S["V"]
    x = sp.Symbol("x", positive=True)
    uk, ua, um = sp.symbols("u_kappa u_a u_m", real=True)
    A, B = V - 1, L - 1
    # scaled Hessian rows (kappa, a, g, m) applied to (uk, ua, 1, um)
    rows = [B * uk - x * A * B / V * 1,
            ua - x * A / V * 1 - x * L / V * um,
            A * 1 - x * A * B / V * uk - x * A / V * ua,
            um - x * L / V * ua]
    sol = sp.solve([rows[0], rows[2], rows[3]], [uk, ua, um], dict=True)[0]
    xc = sp.simplify(linear_beta_c() * S["s_qk"] * S["s_uv"])
    return dict(x=x, u=(sol[uk], sol[ua], sp.Integer(1), sol[um]), last_row=sp.simplify(rows[1].subs(sol)),
                x_c=xc)


def linear_landau_quartic(prior: str = "product") -> sp.Expr:
    """Quartic coefficient Q4 of f_l along the null vector at beta_c (§6), as a function of L, V, s.

    f_l is even under (kappa, a, g, m) -> -(kappa, a, g, m), so no cubic term exists and the transverse
    relaxation enters only at order t^6: f_l(t v) - f_l(0) = Q4 t^4 + O(t^6) at beta_c.  In scaled
    coordinates (u = v / s) the rate quartics are -u^4/4 per singular value (product rate; zero for a
    Gaussian score prior) and the loss quartic carries beta_c s_qk^2 s_uv^2 = x_c s, so Q4 is linear in s:
    the onset is continuous iff Q4 > 0.
    """
    _check(prior=prior)
    S = symbols()
    L, V = S["L"], S["V"]
    s = sp.Symbol("s", positive=True)
    nv = linear_null_vector()
    uk, ua, ug, um = [e.subs(nv["x"], nv["x_c"]) for e in nv["u"]]
    A, B = V - 1, L - 1
    rate4 = -(A * ug**4 + um**4) / 4
    if prior == "product":
        rate4 += -(B * uk**4 + ua**4) / 4
    loss4 = nv["x_c"] * s / 2 * (A / V * (B * ug**2 * uk**2 + ug**2 * ua**2) + L / V * ua**2 * um**2)
    return rate4 + loss4


def linear_tricritical_s(prior: str = "product") -> sp.Expr:
    """s_tc(L, V): the s = s_qk s_uv where the quartic along the null vector vanishes (§6)."""
    s = sp.Symbol("s", positive=True)
    Q = linear_landau_quartic(prior)
    c1 = sp.diff(Q, s)
    c0 = Q.subs(s, 0)
    return -c0 / c1
