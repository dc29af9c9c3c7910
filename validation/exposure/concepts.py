"""Grammatical concept vectors in a model's residual stream (``docs/exposure_grokking.md`` §5).

For n minimal pairs, h_good and h_bad (n, d) are the residual-stream vectors at the critical token
(or at the position predicting it) of the good and the bad sentence, and x_i = h_good_i - h_bad_i
their difference.

* Mass-mean direction v = mean_i x_i, fitted on one set of pairs; its predictivity on held-out
  pairs is the AUC of the scores v.h (good = positive class), the Mann-Whitney probability
  P(v.h_good > v.h_bad) over all good/bad combinations (ties 1/2).
* Logistic probe: L2-regularised logistic regression of the label (good 1, bad 0) on h, fitted by
  Newton's method; held-out accuracy and AUC.
* Dimension of the differences (centred): participation ratio PR = (tr C)^2 / tr(C^2) of their
  sample covariance C (*naive*); the *bias-corrected* PR replaces (tr S)^2 and tr(S^2) by unbiased
  U-statistic estimates of (tr Sigma)^2 and tr(Sigma^2) over distinct sample indices (the naive PR
  of n < d samples is biased low); *effective rank* exp(H(p)), p the normalised singular values of
  the centred differences (Roy & Vetterli 2007); *components for 90%*: the fewest principal
  components holding 90% of the variance.
* Comparisons use the same number of pairs (:func:`concept_geometry` subsamples to ``n_pairs``)
  and a shuffled-label baseline (each pair's good/bad labels swapped with probability 1/2).
"""

from __future__ import annotations

import numpy as np

__all__ = ["mass_mean_direction", "auc", "logistic_probe", "participation_ratio",
           "participation_ratio_unbiased", "effective_rank", "components_for", "concept_geometry"]


def _pairs(h_good, h_bad, name="h"):
    g, b = np.asarray(h_good, dtype=np.float64), np.asarray(h_bad, dtype=np.float64)
    if g.ndim != 2 or g.shape != b.shape:
        raise ValueError(f"{name}_good and {name}_bad must be (n_pairs, d) of one shape; got {g.shape}, {b.shape}")
    return g, b


def mass_mean_direction(h_good, h_bad) -> np.ndarray:
    """v = mean(h_good - h_bad), shape (d,)."""
    g, b = _pairs(h_good, h_bad)
    return (g - b).mean(axis=0)


def auc(pos, neg) -> float:
    """Mann-Whitney AUC: P(pos > neg) + P(pos == neg) / 2 over all (pos, neg) combinations."""
    pos, neg = np.asarray(pos, dtype=float).ravel(), np.asarray(neg, dtype=float).ravel()
    if pos.size == 0 or neg.size == 0:
        raise ValueError("auc needs at least one positive and one negative score")
    allv = np.concatenate([pos, neg])
    order = np.argsort(allv, kind="mergesort")
    ranks = np.empty(allv.size)
    sorted_v = allv[order]
    # average ranks of ties
    _, first, counts = np.unique(sorted_v, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    r_pos = ranks[:pos.size].sum()
    return float((r_pos - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


def logistic_probe(X_train, y_train, X_test, y_test, *, l2: float = 1e-2, max_iter: int = 100,
                   tol: float = 1e-10) -> dict:
    """L2-regularised logistic regression (penalty l2 * |w|^2 / 2 on the weights, not the bias),
    Newton's method on standardised features.

    Returns
    -------
    dict
        acc and auc on the test set, w (d,), b, converged, iterations, grad_norm.
    """
    X, y = np.asarray(X_train, dtype=float), np.asarray(y_train, dtype=float)
    Xt, yt = np.asarray(X_test, dtype=float), np.asarray(y_test, dtype=bool)
    if X.ndim != 2 or y.shape != (X.shape[0],) or Xt.ndim != 2 or Xt.shape[1] != X.shape[1]:
        raise ValueError(f"need X_train (n, d), y_train (n,), X_test (m, d); got {X.shape}, {y.shape}, {Xt.shape}")
    mu, sd = X.mean(axis=0), X.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    Z = np.hstack([(X - mu) / sd, np.ones((len(X), 1))])
    d = Z.shape[1]
    reg = np.full(d, l2 * len(X))
    reg[-1] = 0.0
    w = np.zeros(d)
    converged, it, gnorm = False, 0, np.inf
    for it in range(1, max_iter + 1):
        p = 1.0 / (1.0 + np.exp(-np.clip(Z @ w, -500, 500)))
        grad = Z.T @ (p - y) + reg * w
        gnorm = float(np.linalg.norm(grad) / len(X))
        if gnorm < tol:
            converged = True
            break
        H = (Z * (p * (1 - p))[:, None]).T @ Z + np.diag(reg + 1e-12)
        w = w - np.linalg.solve(H, grad)
    Zt = np.hstack([(Xt - mu) / sd, np.ones((len(Xt), 1))])
    s = Zt @ w
    return {"acc": float(np.mean((s > 0) == yt)), "auc": auc(s[yt], s[~yt]) if yt.any() and (~yt).any() else float("nan"),
            "w": w[:-1] / sd, "b": float(w[-1] - (w[:-1] / sd) @ mu), "converged": converged,
            "iterations": it, "grad_norm": gnorm}


def _centred(X):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"X must be (n >= 2, d); got shape {X.shape}")
    return X - X.mean(axis=0)


def participation_ratio(X) -> float:
    """(tr C)^2 / tr(C^2) of the sample covariance of the rows of X (n, d)."""
    s2 = np.linalg.svd(_centred(X), compute_uv=False) ** 2
    return float(s2.sum() ** 2 / (s2 ** 2).sum())


def participation_ratio_unbiased(X) -> float:
    """Bias-corrected PR: unbiased estimates of (tr Sigma)^2 and tr(Sigma^2) (U-statistics over
    distinct indices, from the Gram matrix G = X X^T of the raw rows; unknown mean allowed):

        tr(Sigma^2)   ~ A2 - 2 A3 + A4,     A2 = mean_{i!=j} G_ij^2,  A3 = mean_{i,j,k distinct} G_ij G_jk,
        (tr Sigma)^2  ~ B2 - 2 B3 + A4,     B2 = mean_{i!=j} G_ii G_jj, B3 = mean_{distinct} G_ii G_jk,
                                            A4 = mean_{i,j,k,l distinct} G_ij G_kl.

    Needs n >= 4 rows.  The ratio of the two unbiased estimates is returned (it may exceed the
    naive value; it is not clipped)."""
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0] if X.ndim == 2 else 0
    if n < 4:
        raise ValueError(f"participation_ratio_unbiased needs X of shape (n >= 4, d); got {X.shape}")
    G = X @ X.T
    g = np.diag(G).copy()
    r = G.sum(axis=1) - g                      # off-diagonal row sums
    F = (G * G).sum() - (g * g).sum()          # sum_{i != j} G_ij^2
    O = r.sum()                                # sum_{i != j} G_ij
    T3 = (r * r).sum() - F                     # sum over distinct i, j, k of G_ij G_jk
    S4 = O * O - 2 * F - 4 * T3                # sum over distinct i, j, k, l of G_ij G_kl
    P2, P3, P4 = n * (n - 1), n * (n - 1) * (n - 2), n * (n - 1) * (n - 2) * (n - 3)
    A2, A3, A4 = F / P2, T3 / P3, S4 / P4
    B2 = (g.sum() ** 2 - (g * g).sum()) / P2
    B3 = (g.sum() * O - 2 * (g * r).sum()) / P3
    num, den = B2 - 2 * B3 + A4, A2 - 2 * A3 + A4
    if not den > 0:
        raise ValueError("the unbiased estimate of tr(Sigma^2) is not positive (too few or degenerate rows)")
    return float(num / den)


def effective_rank(X) -> float:
    """exp of the Shannon entropy of the normalised singular values of the centred rows of X."""
    s = np.linalg.svd(_centred(X), compute_uv=False)
    p = s[s > 0] / s.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def components_for(X, frac: float = 0.9) -> int:
    """Fewest principal components of the centred rows of X holding ``frac`` of the variance."""
    if not 0 < frac <= 1:
        raise ValueError(f"frac must be in (0, 1]; got {frac}")
    s2 = np.linalg.svd(_centred(X), compute_uv=False) ** 2
    return int(np.searchsorted(np.cumsum(s2) / s2.sum(), frac - 1e-12) + 1)


def _geometry(xg, xb, tg, tb):
    """Measures for training pairs (xg, xb) and held-out pairs (tg, tb)."""
    v = (xg - xb).mean(axis=0)
    diff = xg - xb
    n = len(xg)
    probe = logistic_probe(np.vstack([xg, xb]), np.r_[np.ones(n), np.zeros(n)],
                           np.vstack([tg, tb]), np.r_[np.ones(len(tg), bool), np.zeros(len(tb), bool)])
    return {"auc": auc(tg @ v, tb @ v), "probe_acc": probe["acc"], "probe_auc": probe["auc"],
            "pr": participation_ratio(diff), "pr_unbiased": participation_ratio_unbiased(diff),
            "effective_rank": effective_rank(diff), "components_90": components_for(diff, 0.9)}


def concept_geometry(h_good, h_bad, held_good, held_bad, *, n_pairs: int, n_repeats: int = 10,
                     seed: int = 0) -> dict:
    """Concept-vector measures at a fixed number of pairs, with a shuffled-label baseline.

    Parameters
    ----------
    h_good, h_bad : (n, d)
        Pairs the direction and probe are fitted on (e.g. proxy-train pairs).
    held_good, held_bad : (m, d)
        Held-out pairs they are evaluated on.
    n_pairs : int
        Fitting pairs drawn (without replacement) in each of ``n_repeats`` repeats; needs n >= n_pairs >= 4.

    Returns
    -------
    dict
        ``{"observed": {measure: mean}, "observed_sd": {...}, "shuffled": {...}, "shuffled_sd": {...},
        "observed_draws": {measure: [one value per repeat]}, "shuffled_draws": {...}, "n_pairs",
        "n_repeats"}`` with measures auc, probe_acc, probe_auc, pr, pr_unbiased, effective_rank,
        components_90.  The fitting subsets depend only on ``seed``, n and ``n_pairs``: two calls
        with the same seed on the same pairs (e.g. two checkpoints) draw the same subsets, so their
        draws are paired.
    """
    g, b = _pairs(h_good, h_bad)
    tg, tb = _pairs(held_good, held_bad, "held")
    if not (isinstance(n_pairs, int) and 4 <= n_pairs <= len(g)):
        raise ValueError(f"n_pairs must be an integer in [4, {len(g)}] (the fitting pairs); got {n_pairs!r}")
    rng = np.random.default_rng(seed)
    obs, shuf = [], []
    for _ in range(n_repeats):
        j = rng.choice(len(g), n_pairs, replace=False)
        xg, xb = g[j], b[j]
        obs.append(_geometry(xg, xb, tg, tb))
        swap = rng.random(n_pairs) < 0.5
        sg, sb = np.where(swap[:, None], xb, xg), np.where(swap[:, None], xg, xb)
        shuf.append(_geometry(sg, sb, tg, tb))
    keys = list(obs[0])
    mean = lambda rows: {k: float(np.mean([r[k] for r in rows])) for k in keys}
    sd = lambda rows: {k: float(np.std([r[k] for r in rows], ddof=1)) if len(rows) > 1 else 0.0 for k in keys}
    draws = lambda rows: {k: [float(r[k]) for r in rows] for k in keys}
    return {"observed": mean(obs), "observed_sd": sd(obs), "shuffled": mean(shuf), "shuffled_sd": sd(shuf),
            "observed_draws": draws(obs), "shuffled_draws": draws(shuf), "n_pairs": n_pairs,
            "n_repeats": n_repeats}
