"""Umbrella sampling + MBAR for the finite-N free-energy profile along kappa_hat and the finite-N
equal-mass point alpha_c(N) of softmax attention (``docs/attention_copy.md`` §8).

Windows: HMC at alpha0 with the bias (N k_b / 2)(kappa_hat - kappa0)^2, kappa0 spanning the two
basins (default kappa_uniform - 0.33 .. kappa_copy + 0.5 of the large-N states at beta_c, i.e.
-0.15 .. 1.65 at L = 8, s_qk = 0.25, s_uv = 9; spacing shrinking like N^-1/2 so that windows
overlap), k_b larger than the largest negative curvature of the large-N
profile phi(kappa) = min_g f_s (so every biased profile is convex).  MBAR (Shirts & Chodera 2008)
pools all windows; any other alpha is reached by reweighting with the stored loss l = L eps (the
whitened data term is alpha N l / (2 sigma^2), sigma^2 = 1 here).  Basins are split at the profile
maximum between them; alpha_c(N) is where the two basins carry equal mass (Brent on the log ratio).
The same windows and MBAR serve the one-hot model (``sample_windows(..., V=V)``,
``docs/attention_onehot.md`` §2, §5): its whitened data term is also alpha N l / 2 with l = L eps.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, minimize
from scipy.special import logsumexp

from grokphase import attention
from grokphase.numerics.errors import ConvergenceError
from grokphase.validation.copy_attention import OBSERVABLE_NAMES, umbrella_bias
from grokphase.validation.samplers import HMCResult, hmc


def softmax_variant(V) -> attention.Variant:
    """The softmax model of the windows: Gaussian tokens (V None) or one-hot tokens with vocabulary V."""
    return attention.Variant("softmax") if V is None else attention.Variant("softmax", tokens="onehot", V=V)


def profile_curvature_bound(L=8, s_qk=0.25, s_uv=9.0, beta=None, V=None) -> float:
    """max over kappa of -phi''(kappa) at beta (default beta_c), phi = min_g f_s (large N); V: the
    one-hot model's vocabulary size (its copy part of f_s, docs/attention_onehot.md §5), None:
    Gaussian tokens."""
    from scipy.optimize import minimize_scalar

    v = softmax_variant(V)
    if beta is None:
        beta = attention.transition(L=L, kind=v, s_qk=s_qk, s_uv=s_uv).beta_c
    ks = np.linspace(0.0, 2.5, 501)
    f = v.copy_profile(beta, L, s_qk, s_uv)
    phi = np.array([minimize_scalar(lambda g: f(k, g),
                                    bounds=(0.0, 5.0), method="bounded", options={"xatol": 1e-10}).fun for k in ks])
    d2 = np.gradient(np.gradient(phi, ks), ks)
    return float(max(0.0, -d2.min()))


@dataclass(frozen=True)
class UmbrellaSamples:
    """Pooled draws, the input of MBAR: kappa_hat (M,), loss l (M,), window index (M,); kappa0 (K,),
    k_b, alpha0, N (``UmbrellaRun.pooled()``, or a block-bootstrap resample of it); basins: the
    large-N kappa of the uniform and copy states at beta_c."""

    kappa_hat: np.ndarray
    loss: np.ndarray
    window: np.ndarray
    kappa0: np.ndarray
    k_b: float
    alpha0: float
    N: int
    basins: tuple[float, float]


@dataclass(frozen=True, eq=False)
class UmbrellaRun(HMCResult):
    """The biased HMC run of ``sample_windows`` in ArviZ's layout.

    ``posterior`` holds every observable plus ``loss`` = L eps, (chain, draw), with the chain
    coordinates ``window`` (index) and ``kappa0`` (its bias centre); attributes k_b, alpha0 (the
    sampled alpha, P / N), kappa_uniform and kappa_copy (the large-N basins at beta_c) and the
    model's parameters.  ``sample_stats`` as for :class:`HMCResult`
    (``lp`` includes the bias).  :meth:`pooled` gives the MBAR input."""

    def pooled(self) -> UmbrellaSamples:
        """All draws pooled, chain-major (the order MBAR and the block bootstrap use)."""
        p = self.posterior
        kh = p["kappa_hat"].values
        return UmbrellaSamples(kappa_hat=kh.ravel(), loss=p["loss"].values.ravel(),
                               window=np.repeat(p["window"].values, kh.shape[1]),
                               kappa0=_window_centres(p),
                               k_b=p.attrs["k_b"], alpha0=p.attrs["alpha0"], N=p.attrs["N"],
                               basins=(p.attrs["kappa_uniform"], p.attrs["kappa_copy"]))


def _window_centres(posterior) -> np.ndarray:
    """kappa0 per window (K,), from the per-chain coordinates."""
    K = int(posterior["window"].values.max()) + 1
    out = np.empty(K)
    out[posterior["window"].values] = posterior["kappa0"].values
    return out


def sample_windows(N: int, *, alpha0=None, kappa0=None, k_b=None, chains_per=1, n_iter=2000, seed=0, L=8,
                   s_qk=0.25, s_uv=9.0, V=None, progress: bool | None = None) -> UmbrellaRun:
    """One batched HMC run over all windows (alternate chains start uniform / copy).

    Parameters
    ----------
    N : int
        Width of the finite-N model.
    alpha0 : float, optional
        Sampled data per width P / N (default: the large-N beta_c).
    kappa0 : array-like, shape (K,), optional
        Window centres in kappa_hat.  None: windows over kappa_uniform - 0.33 .. kappa_copy + 0.5
        (module docstring) spaced by at most 2 / sqrt(N k_b), twice the width of a biased window,
        so that neighbouring windows overlap (MBAR needs it; the spacing shrinks like N^-1/2).
    k_b : float, optional
        Bias stiffness (default 1.5 x :func:`profile_curvature_bound`).
    chains_per : int
        Chains per window (alternately started uniform / at the large-N copy state at beta_c).
    n_iter : int
        HMC iterations (the first half is discarded).
    seed : int
        Random seed (combined with N).
    L, s_qk, s_uv : int, float, float
        Sequence length and prior scales; the transition there must be first order.
    V : int, optional
        One-hot tokens with vocabulary size V (``onehot_attention``: whitened count tensor, copy
        start on the ansatz at the large-N copy state); None: Gaussian tokens.
    progress : bool, optional
        tqdm bar over the HMC iterations (see :func:`grokphase.validation.samplers.hmc_tuple`).

    Returns
    -------
    UmbrellaRun
        The biased run (``equal_mass_point`` takes it); K x chains_per chains.
    """
    v = softmax_variant(V)
    t = attention.transition(L=L, kind=v, s_qk=s_qk, s_uv=s_uv)
    if t.order != "first":
        raise ValueError(f"L, s_qk, s_uv = {L}, {s_qk}, {s_uv}: the transition is {t.order!r}; umbrella "
                         f"sampling between two basins needs a first-order one")
    alpha0 = t.beta_c if alpha0 is None else alpha0
    k_b = 1.5 * profile_curvature_bound(L, s_qk, s_uv, alpha0, V) if k_b is None else k_b
    if kappa0 is None:
        lo, hi = t.uniform.kappa - 0.33, t.copy.kappa + 0.5
        kappa0 = np.linspace(lo, hi, int(np.ceil((hi - lo) / (2.0 / math.sqrt(N * k_b)))) + 1)
    rng = np.random.default_rng(seed + 7919 * N)
    K = len(kappa0)
    n = K * chains_per
    k0 = np.repeat(np.asarray(kappa0, float), chains_per)
    P = int(round(alpha0 * N))
    model = v.finite_n_model(L, N, s_qk=s_qk, s_uv=s_uv)
    th_u = v.finite_n.prior_draw(model, n, rng)
    th_c = v.finite_n_start(model, n, rng, t.copy)
    C = v.finite_n_data(L, P)
    use_copy = np.arange(n) % 2 == 1
    theta = tuple(np.where(use_copy.reshape((-1,) + (1,) * (a.ndim - 1)), b, a) for a, b in zip(th_u, th_c))
    res = hmc(model, theta, C, rng, n_iter=n_iter, bias=lambda th: umbrella_bias(model, th, k0, k_b),
              progress=progress)
    post = res.posterior.assign(loss=L * res.posterior["eps"])
    post["loss"].attrs["long_name"] = OBSERVABLE_NAMES["loss"]
    post = post.assign_coords(window=("chain", np.repeat(np.arange(K), chains_per)), kappa0=("chain", k0))
    post.attrs.update(k_b=float(k_b), alpha0=int(round(alpha0 * N)) / N, kappa_uniform=t.uniform.kappa,
                      kappa_copy=t.copy.kappa)
    return UmbrellaRun(posterior=post, sample_stats=res.sample_stats, acceptance=res.acceptance,
                       step_size=res.step_size, final=res.final)


def mbar_free_energies(u_kn: np.ndarray, N_k: np.ndarray, tol: float = 1e-8, max_iter: int = 100) -> np.ndarray:
    """MBAR dimensionless free energies f_k (f_0 = 0) from reduced potentials u_kn (K, M) of all
    pooled samples in every state, N_k samples from state k: Newton with backtracking on the convex
    MBAR objective (Shirts & Chodera 2008, eq. 11), started from an L-BFGS estimate (which stops
    early, at max |gradient| ~ 1e-4 M, on this flat objective), converged when max |gradient| <= tol M.
    Least-squares Newton steps cope with windows that barely overlap (a near-singular Hessian)."""
    logN = np.log(N_k)
    M = N_k.sum()

    def parts(f):
        lse = logsumexp(f[:, None] - u_kn + logN[:, None], axis=0)
        w = np.exp(f[:, None] - u_kn + logN[:, None] - lse[None, :])     # (K, M), columns sum to 1
        return lse.sum() - (N_k * f).sum(), w.sum(axis=1) - N_k, w

    def objective(f_rest):
        v, g, _ = parts(np.concatenate([[0.0], f_rest]))
        return v, g[1:]

    res = minimize(objective, np.zeros(len(N_k) - 1), jac=True, method="L-BFGS-B")
    f = np.concatenate([[0.0], res.x])
    val, grad, w = parts(f)
    for _ in range(max_iter):
        if np.max(np.abs(grad[1:]), initial=0.0) <= tol * M:
            return f
        H = np.diag(w.sum(axis=1)) - w @ w.T
        step = np.concatenate([[0.0], np.linalg.lstsq(H[1:, 1:], grad[1:], rcond=None)[0]])
        t = 1.0
        while True:
            new = parts(f - t * step)
            if new[0] <= val or t < 1e-10:
                break
            t *= 0.5
        f = f - t * step
        val, grad, w = new
    raise ConvergenceError(f"MBAR did not converge in {max_iter} Newton steps: max |grad| = "
                           f"{np.max(np.abs(grad[1:])):.3g}")


class Reweighter:
    """Weights of the pooled samples in the unbiased ensemble at any alpha."""

    def __init__(self, s: UmbrellaSamples):
        self.s = s
        K = len(s.kappa0)
        self.N_k = np.bincount(s.window, minlength=K).astype(float)
        self.u_kn = 0.5 * s.N * s.k_b * (s.kappa_hat[None, :] - s.kappa0[:, None]) ** 2
        self.f_k = mbar_free_energies(self.u_kn, self.N_k)
        self.log_denom = logsumexp(self.f_k[:, None] - self.u_kn + np.log(self.N_k)[:, None], axis=0)

    def log_weights(self, alpha: float) -> np.ndarray:
        """Normalised log weights at alpha (unbiased): exp(-(alpha - alpha0) N l / 2) / denominator."""
        lw = -(alpha - self.s.alpha0) * self.s.N * self.s.loss / 2.0 - self.log_denom
        return lw - logsumexp(lw)

    def profile(self, alpha: float, bins: np.ndarray):
        """Bin centres and -log p_N(kappa_hat)/N per bin (nan for empty bins)."""
        lw = self.log_weights(alpha)
        idx = np.digitize(self.s.kappa_hat, bins) - 1
        prof = np.full(len(bins) - 1, np.nan)
        for b in range(len(bins) - 1):
            m = idx == b
            if m.any():
                prof[b] = -(logsumexp(lw[m]) - math.log(bins[b + 1] - bins[b])) / self.s.N
        return 0.5 * (bins[1:] + bins[:-1]), prof

    def log_mass_ratio(self, alpha: float, split: float) -> float:
        """log(mass copy / mass uniform), basins split at kappa_hat = split."""
        lw = self.log_weights(alpha)
        c = self.s.kappa_hat > split
        return float(logsumexp(lw[c]) - logsumexp(lw[~c]))


def _block_bootstrap(s: UmbrellaSamples, rng, n_blocks=10) -> UmbrellaSamples:
    """Resample, within every window, contiguous blocks of its draws (keeps autocorrelation)."""
    idx = []
    for k in range(len(s.kappa0)):
        w = np.flatnonzero(s.window == k)
        blocks = np.array_split(w, n_blocks)
        idx.extend(np.concatenate([blocks[j] for j in rng.integers(0, n_blocks, n_blocks)]))
    idx = np.array(idx)
    return dataclasses.replace(s, kappa_hat=s.kappa_hat[idx], loss=s.loss[idx], window=s.window[idx])


def equal_mass_point(run: UmbrellaRun, bins=None, n_boot: int = 20, seed: int = 0) -> dict:
    """alpha_c(N) (equal basin masses), the split point and the barrier per N at alpha_c(N);
    alpha_c_se from a block bootstrap over each window's draws (n_boot resamples).

    bins: kappa_hat bin edges of the profile (default 85 edges over kappa_uniform - 0.48 ..
    kappa_copy + 0.65).  Returns plain numbers; 'profile' is -log p_N/N at alpha_c(N) on the bin
    centres 'profile_kappa' (nan in empty bins)."""
    s = run.pooled()
    ku, kc = s.basins
    bins = np.linspace(ku - 0.48, kc + 0.65, 85) if bins is None else np.asarray(bins, float)
    guess, reach = 0.5 * (ku + kc), 0.12 * s.alpha0
    rw = Reweighter(s)
    centres, prof = rw.profile(s.alpha0, bins)
    ok = np.isfinite(prof)
    c, p = centres[ok], prof[ok]
    lo = np.argmin(np.where(c < guess, p, np.inf))
    hi = np.argmin(np.where(c > guess, p, np.inf))
    split = c[lo + np.argmax(p[lo:hi + 1])]
    ends = [rw.log_mass_ratio(a, split) for a in (s.alpha0 - reach, s.alpha0 + reach)]
    if not ends[0] < 0 < ends[1]:
        raise ConvergenceError(f"N = {s.N}: no equal-mass point within alpha0 +- 12% (log mass ratio copy/uniform "
                               f"{ends[0]:.3g} .. {ends[1]:.3g}); are both basins sampled (more n_iter, larger N, "
                               f"or a larger barrier: further from the critical end point)?")
    a_c = brentq(lambda a: rw.log_mass_ratio(a, split), s.alpha0 - reach, s.alpha0 + reach, xtol=1e-6)
    centres, full = rw.profile(a_c, bins)
    ok = np.isfinite(full)
    c, p = centres[ok], full[ok]
    lo = np.argmin(np.where(c < split, p, np.inf))
    top = np.argmax(np.where((c >= c[lo]) & (c <= split + 0.2 * (kc - ku)), p, -np.inf))
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        rb = Reweighter(_block_bootstrap(s, rng))
        boot.append(brentq(lambda a: rb.log_mass_ratio(a, split), s.alpha0 - reach, s.alpha0 + reach, xtol=1e-6))
    return {"N": s.N, "alpha_c": float(a_c), "alpha_c_se": float(np.std(boot, ddof=1)) if n_boot > 1 else float("nan"),
            "split": float(split), "barrier": float(p[top] - p[lo]),
            "profile_kappa": centres.tolist(), "profile": full.tolist(), "k_b": s.k_b, "alpha0": s.alpha0,
            "mbar_f": rw.f_k.tolist()}
