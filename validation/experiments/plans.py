"""Named plans of the uniformity experiments: a design and axes, expanded into a list of runs.

``docs/uniformity_med.md`` (section "Running the experiments").  A plan is (design, {field:
values}); its runs are the product of the axes applied to the design (in axis order).  Once the
package's sweep layer is available, these are the grids to hand to ``grokphase.sweep.run_sweep``
with the designs' ``point`` functions.
"""

from __future__ import annotations

import dataclasses

__all__ = ["expand"]


def expand(design, axes: dict) -> list:
    """Runs of the product of ``axes`` (field -> list of values) over the frozen dataclass ``design``."""
    names = {f.name for f in dataclasses.fields(design)}
    bad = sorted(set(axes) - names)
    if bad:
        raise ValueError(f"axes {bad} are not fields of {type(design).__name__}; valid: {sorted(names)}")
    runs = [design]
    for key, values in axes.items():
        runs = [dataclasses.replace(r, **{key: v}) for r in runs for v in values]
    return runs
