"""Progress measures of grokking runs, one family computed from one snapshot.

Definitions: ``docs/uniformity_med.md`` (§4 and §7 (item 1)).  With e_t the embedding row
of token id t, ids 0..p-1 read as residues t in Z_p:

* ``med``: the uniformity paper's mean embedding distance of numerically adjacent tokens (the
  exact definition of its code, wrap-around pair and the pair (p-2, p-1) left out):
  MED = 1/2 [ (1/(p-2)) sum_{i=0}^{p-3} |e_{i+1} - e_i| + (1/(p-2)) sum_{i=d}^{d+p-3} |e_{i+1} - e_i| ].
* ``rms_adjacent`` = sqrt((1/p) sum_{t in Z_p} |e_{(t+1) mod p} - e_t|^2) over ids 0..p-1 and
  ``mean_adjacent`` the mean of those p distances; ``spacing_spread`` = their population standard
  deviation / mean (0 for uniform spacing).  mean = rms / sqrt(1 + spread^2) exactly.
* ``fourier_power``: merged DFT power P_f = |E_f|^2 + |E_{p-f}|^2, f = 1..(p-1)/2, summed over
  model dimensions; ``rms_adjacent_from_spectrum`` = sqrt(sum_f 4 sin^2(pi f/p) P_f / p^2) (the
  Parseval form derived in ``grokphase.theory.uniformity``; equal to ``rms_adjacent``).
* ``fourier_sparsity``: Nanda et al.'s observation that the grokked embedding is sparse in the
  Fourier basis over Z_p.  Our scalar: the share of the non-constant spectral power carried by
  its k strongest frequencies; about k / ((p-1)/2) for a random embedding, -> 1 for a k-frequency one.
* ``token_norm_mean`` / ``token_norm_spread``: mean and (population sd / mean) of the norms of the
  operand ids 0..p+d-1; ``embedding_norm``: their Frobenius norm.
* ``weight_norm`` (global L2 norm of all parameters) and ``token_norms`` (per-token norms).

Nanda et al.'s excluded and restricted losses need the model: ``grokphase.validation.fourier_ablation``.
:func:`snapshot_measures` gathers everything for a training log.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from grokphase.numerics.uniformity import rms_adjacent_from_spectrum as _rms_from_power

__all__ = ["med", "fourier_power", "fourier_sparsity", "weight_norm", "token_norms", "adjacent_distances",
           "key_frequencies", "ProgressMeasures", "progress_measures", "uniformity_on", "snapshot_measures"]


def _check(embed: np.ndarray, p: int, offset: int = 0) -> np.ndarray:
    embed = np.asarray(embed)
    if embed.ndim != 2:
        raise ValueError(f"embed must be a (V, D) array, got shape {embed.shape}")
    if not (isinstance(p, (int, np.integer)) and p >= 3 and p % 2):
        raise ValueError(f"p must be an odd integer >= 3, got {p!r}")
    if not (isinstance(offset, (int, np.integer)) and offset >= 0):
        raise ValueError(f"offset must be an integer >= 0, got {offset!r}")
    if embed.shape[0] < p + offset:
        raise ValueError(f"embed has {embed.shape[0]} rows, needs p + offset = {p + offset}")
    return embed.astype(np.float64)


def med(embed: np.ndarray, p: int, offset: int = 0) -> float:
    """The paper's MED (module docstring).  embed (V, D); p the modulus; offset d of the second
    operand's ids."""
    e = _check(embed, p, offset)
    first = np.linalg.norm(np.diff(e[:p - 1], axis=0), axis=1).sum() / (p - 2)
    second = np.linalg.norm(np.diff(e[offset:offset + p - 1], axis=0), axis=1).sum() / (p - 2)
    return 0.5 * float(first + second)


def adjacent_distances(embed: np.ndarray, p: int) -> np.ndarray:
    """|e_{(t+1) mod p} - e_t| for t = 0..p-1, shape (p,) (the last one is the wrap-around pair)."""
    e = _check(embed, p)[:p]
    return np.linalg.norm(np.roll(e, -1, axis=0) - e, axis=1)


def fourier_power(embed: np.ndarray, p: int) -> np.ndarray:
    """Merged spectral power of embed[:p] per frequency f = 1..(p-1)/2, shape ((p-1)/2,)."""
    F = np.fft.fft(_check(embed, p)[:p], axis=0)
    power = (np.abs(F) ** 2).sum(axis=1)
    half = (p - 1) // 2
    return power[1:half + 1] + power[p - half:][::-1]


def fourier_sparsity(embed: np.ndarray, p: int, k: int = 5) -> float:
    """Share of non-constant spectral power in the k strongest frequencies (module docstring)."""
    pw = fourier_power(embed, p)
    return float(np.sort(pw)[::-1][:k].sum() / pw.sum())


def key_frequencies(embed: np.ndarray, p: int, k: int = 5) -> np.ndarray:
    """The k frequencies (in 1..(p-1)/2) of largest merged power, strongest first."""
    if not (isinstance(k, (int, np.integer)) and 1 <= k <= (p - 1) // 2):
        raise ValueError(f"k must be an integer in [1, (p-1)/2 = {(p - 1) // 2}], got {k!r}")
    return np.argsort(fourier_power(embed, p))[::-1][:k] + 1


def weight_norm(params: dict) -> float:
    return float(np.sqrt(sum(float(np.vdot(v, v)) for v in params.values())))


def token_norms(embed: np.ndarray, n: int | None = None) -> np.ndarray:
    """Norms of the first n token embeddings (all when n is None)."""
    e = embed if n is None else embed[:n]
    return np.linalg.norm(e.astype(np.float64), axis=1)


def _spread(x: np.ndarray) -> float:
    m = float(x.mean())
    return float(x.std() / m) if m > 0 else 0.0


@dataclass(frozen=True, eq=False)
class ProgressMeasures:
    """The measures of one embedding snapshot (module docstring); arrays are read-only.

    Attributes: med, rms_adjacent, mean_adjacent, spacing_spread, rms_adjacent_from_spectrum,
    fourier_sparsity, token_norm_mean, token_norm_spread, embedding_norm (floats);
    fourier_power ((p-1)/2,), adjacent_distances (p,), key_frequencies (k,) arrays; p, offset."""

    p: int
    offset: int
    med: float
    rms_adjacent: float
    mean_adjacent: float
    spacing_spread: float
    rms_adjacent_from_spectrum: float
    fourier_sparsity: float
    token_norm_mean: float
    token_norm_spread: float
    embedding_norm: float
    fourier_power: np.ndarray
    adjacent_distances: np.ndarray
    key_frequencies: np.ndarray

    def as_dict(self, arrays: bool = True) -> dict:
        """Plain JSON-ready values (arrays as lists; ``arrays=False`` leaves them out)."""
        out = {}
        for k, v in asdict(self).items():
            if isinstance(v, np.ndarray):
                if arrays:
                    out[k] = v.tolist()
            else:
                out[k] = v
        return out


def progress_measures(embed: np.ndarray, p: int, offset: int = 0, *, k: int = 5) -> ProgressMeasures:
    """All embedding measures of one snapshot (module docstring).

    Parameters
    ----------
    embed : (V, D) array
        Token embedding; rows 0..p-1 are the residues (first operand), rows d..d+p-1 the second
        operand's ids, V >= p + offset.
    p : int
        The modulus (odd).
    offset : int
        The second operand's id offset d.
    k : int
        Number of strongest frequencies for ``fourier_sparsity`` and ``key_frequencies`` (at most
        (p-1)/2).
    """
    e = _check(embed, p, offset)
    k = min(k, (p - 1) // 2)
    dist = adjacent_distances(e, p)
    power = fourier_power(e, p)
    norms = token_norms(e, p + offset)
    arrays = {"fourier_power": power, "adjacent_distances": dist, "key_frequencies": key_frequencies(e, p, k)}
    for a in arrays.values():
        a.flags.writeable = False   # fresh arrays owned by the result
    return ProgressMeasures(
        p=int(p), offset=int(offset), med=med(e, p, offset),
        rms_adjacent=float(np.sqrt(np.mean(dist**2))), mean_adjacent=float(dist.mean()),
        spacing_spread=_spread(dist), rms_adjacent_from_spectrum=_rms_from_power(power, p),
        fourier_sparsity=float(np.sort(power)[::-1][:k].sum() / power.sum()) if power.sum() > 0 else 0.0,
        token_norm_mean=float(norms.mean()), token_norm_spread=_spread(norms),
        embedding_norm=float(np.sqrt((norms**2).sum())), **arrays)


def uniformity_on(embed: np.ndarray, ids) -> dict:
    """Uniformity of a subset of residue ids (e.g. the ids seen in training), shape-free scalars:
    {"norm_mean", "norm_spread"} over the rows ``ids``, and {"spacing_mean", "spacing_spread"}
    over the pairs (t, t+1) with both t and t+1 in ``ids`` (no wrap-around; NaN-free: 0 when
    there is no such pair)."""
    ids = np.unique(np.asarray(ids, dtype=np.int64))
    e = np.asarray(embed, dtype=np.float64)
    if ids.size == 0 or ids.min() < 0 or ids.max() >= e.shape[0]:
        raise ValueError(f"ids must be a non-empty set of row indices in [0, {e.shape[0]})")
    norms = np.linalg.norm(e[ids], axis=1)
    pair = ids[np.isin(ids + 1, ids)]
    d = np.linalg.norm(e[pair + 1] - e[pair], axis=1)
    return {"norm_mean": float(norms.mean()), "norm_spread": _spread(norms),
            "spacing_mean": float(d.mean()) if d.size else 0.0, "spacing_spread": _spread(d) if d.size else 0.0}


def snapshot_measures(model, ds, *, embed: np.ndarray | None = None, nanda: bool = False, k: int = 5) -> dict:
    """Progress measures of a model snapshot as a flat JSON-ready dict, for a training log.

    model: anything with ``params`` (dict of arrays, ``params["embed"]`` the token embedding
    unless ``embed`` is given) and, for ``nanda``, ``logits(tokens)``; ds: a ``ModularDataset``.
    Keys: those of :class:`ProgressMeasures` (arrays as lists), ``weight_norm``, and with
    ``nanda`` ``excluded_loss`` / ``restricted_loss`` at the embedding's k key frequencies."""
    E = model.params["embed"] if embed is None else embed
    pm = progress_measures(E, ds.p, ds.offset if embed is None else 0, k=k)
    out = pm.as_dict()
    del out["p"], out["offset"]
    out["weight_norm"] = weight_norm(model.params)
    if nanda:
        from grokphase.validation.fourier_ablation import excluded_loss, restricted_loss

        out["excluded_loss"] = excluded_loss(model, ds, pm.key_frequencies)
        out["restricted_loss"] = restricted_loss(model, ds, pm.key_frequencies)
    return out
