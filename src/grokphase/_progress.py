"""Progress bars: the one place the package makes a tqdm bar (sweeps, training loops, samplers).

``progress`` means the same everywhere: True shows a bar on stderr, False writes nothing at all,
None (the default of every function that takes it) shows one only when stderr is a terminal and
no other bar of the package is open in this process (a sampler run inside a sweep point, or a
training run inside a sweep, stays quiet under the sweep's bar unless asked with True).

>>> with progress_bar(3, progress=False, desc="demo") as bar:   # off: no output
...     for _ in range(3):
...         bar.update()
>>> bar.disable
True
"""

from __future__ import annotations

import functools
import sys
import threading

__all__ = ["progress_bar", "show_progress"]

_lock = threading.Lock()
_open = [0]          # bars of the package open in this process


def _depth() -> int:
    return _open[0]


def show_progress(progress: bool | None) -> bool:
    """Whether a bar asked for with ``progress`` (True, False or None; module docstring) is shown."""
    if progress is None:
        return _depth() == 0 and sys.stderr.isatty()
    if not isinstance(progress, (bool, int)):
        raise ValueError(f"progress must be True, False or None, got {progress!r}")
    return bool(progress)


def progress_bar(total: int | None = None, *, progress: bool | None = None, desc: str | None = None,
                 unit: str = "it", initial: int = 0, leave: bool = True, iterable=None):
    """A tqdm bar on stderr (a context manager; also closes with ``.close()``, or at the end of
    ``iterable`` when iterated).

    Parameters
    ----------
    total : int, optional
        Number of units of work (None: unknown, or the length of ``iterable``).
    progress : bool, optional
        True: show the bar; False: write nothing; None: show it only when stderr is a terminal and
        no other bar of the package is open in this process.
    desc : str, optional
        Label in front of the bar.
    unit : str
        Name of one unit of work ("point", "step", "iter").
    initial : int
        Units already done (a resumed run or a sweep with stored points).
    leave : bool
        Keep the finished bar on the terminal.
    iterable : iterable, optional
        Iterate over the bar to get its items, one unit each.

    Returns
    -------
    tqdm.tqdm
        The bar (``disable`` True when not shown: then ``update`` and ``set_postfix`` do nothing).
    """
    return _bar_class()(iterable, total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr, leave=leave,
                        disable=not show_progress(progress))


@functools.cache
def _bar_class():
    """tqdm with a count of the open bars (imported on first use: tqdm stays out of the
    command line's parser)."""
    from tqdm.auto import tqdm

    class Bar(tqdm):
        _counted = False

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            with _lock:
                _open[0] += 1
                self._counted = True

        def close(self):
            with _lock:
                if self._counted:
                    self._counted = False
                    _open[0] -= 1
            super().close()

    return Bar
