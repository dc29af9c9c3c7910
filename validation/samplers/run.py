"""Sampler output in ArviZ's layout: a ``posterior`` and a ``sample_stats`` xarray.Dataset, dims (chain, draw).

Every sampler of the package (HMC, umbrella windows, Langevin trajectories) returns a
:class:`SamplerRun` (or a subclass).  ``posterior`` holds the recorded observables, each of shape
(chain, draw, ...), with the model parameters as typed attributes; ``sample_stats`` holds what the
sampler knows about each draw, under ArviZ's names where they exist (``acceptance_rate``,
``step_size``, ``energy``, ``lp``, ``diverging``).  ``to_inference_data()`` hands both to ArviZ
(optional dependency: ``pip install 'grokphase[arviz]'``).  The package's own diagnostics
(:mod:`.diagnostics`: split R-hat, ESS) are the tested reference; :meth:`SamplerRun.estimate`
applies them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import xarray as xr

from .diagnostics import Estimate, estimate

__all__ = ["SamplerRun", "chain_dataset"]


def chain_dataset(values: Mapping[str, np.ndarray], *, attrs: Mapping | None = None,
                  long_names: Mapping[str, str] | None = None, draw_coords: Mapping | None = None,
                  chain_coords: Mapping | None = None) -> xr.Dataset:
    """A Dataset of arrays of shape (chain, draw, ...) with dims ``chain``, ``draw`` (extra axes
    ``{name}_dim_{i}``, ArviZ's convention) and integer coordinates on chain and draw.

    Parameters
    ----------
    values : mapping name -> array, shape (chain, draw, ...)
        All with the same (chain, draw).
    attrs : mapping, optional
        Global attributes (str, int, float or bool values, so that they survive netCDF).
    long_names : mapping name -> str, optional
        CF ``long_name`` of the variables.
    draw_coords, chain_coords : mapping name -> array, optional
        Extra (non-index) coordinates along ``draw`` (e.g. time), shape (draw,), or ``chain``
        (e.g. window), shape (chain,).

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    ValueError
        An array with fewer than two axes, or arrays with different (chain, draw).
    """
    long_names = long_names or {}
    data = {}
    n_chain = n_draw = None
    for k, v in values.items():
        v = np.asarray(v)
        if v.ndim < 2:
            raise ValueError(f"values[{k!r}] must have shape (chain, draw, ...), got {v.shape}")
        n_chain, n_draw = v.shape[:2]
        dims = ("chain", "draw") + tuple(f"{k}_dim_{i}" for i in range(v.ndim - 2))
        data[k] = (dims, v, {"long_name": long_names[k]} if k in long_names else {})
    coords = {}
    if n_chain is not None:
        coords = {"chain": np.arange(n_chain), "draw": np.arange(n_draw)}
    coords.update({k: ("draw", np.asarray(v)) for k, v in (draw_coords or {}).items()})
    coords.update({k: ("chain", np.asarray(v)) for k, v in (chain_coords or {}).items()})
    return xr.Dataset(data, coords=coords, attrs=dict(attrs or {}))


@dataclass(frozen=True, eq=False)
class SamplerRun:
    """Draws of one sampler run in ArviZ's layout.

    Attributes
    ----------
    posterior : xarray.Dataset
        Observables, each (chain, draw, ...); the sampler's and the model's parameters in ``attrs``.
    sample_stats : xarray.Dataset
        Per-draw sampler statistics, (chain, draw): see the sampler for which ones.
    """

    posterior: xr.Dataset
    sample_stats: xr.Dataset

    @property
    def draws(self) -> dict[str, np.ndarray]:
        """The posterior's variables as plain arrays, name -> (chain, draw, ...)."""
        return {k: v.values for k, v in self.posterior.data_vars.items()}

    def estimate(self, name: str, chains=None) -> Estimate:
        """Mean, ESS-based standard error and split R-hat of a scalar observable.

        Parameters
        ----------
        name : str
            A posterior variable of shape (chain, draw).
        chains : array-like of int, optional
            The chains to use (default: all).

        Returns
        -------
        Estimate

        Raises
        ------
        ValueError
            ``name`` is not a posterior variable (naming the valid ones).
        """
        if name not in self.posterior:
            raise ValueError(f"name must be one of {sorted(self.posterior.data_vars)}, got {name!r}")
        x = self.posterior[name].values
        return estimate(x if chains is None else x[np.asarray(chains)])

    def to_inference_data(self):
        """An ``arviz.InferenceData`` with the groups ``posterior`` and ``sample_stats``.

        Returns
        -------
        arviz.InferenceData

        Raises
        ------
        ImportError
            arviz is not installed (``pip install 'grokphase[arviz]'``).
        """
        try:
            import arviz
        except ImportError as e:
            raise ImportError("to_inference_data needs arviz: pip install 'grokphase[arviz]' "
                              "(or pip install arviz)") from e
        return arviz.InferenceData(posterior=self.posterior, sample_stats=self.sample_stats)
