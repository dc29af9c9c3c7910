"""Atomic file writes and strict JSON: the one place where the package writes result files.

Every writer in the package goes through :func:`atomic_path` (or its text/JSON shorthands): the data
are written to a temporary file with a unique name *in the target folder*, flushed and fsync-ed, then
renamed over the target, so a reader sees either the old file or the new one, never a partial one,
and two writers never share a temporary name.

JSON written by the package is strict (RFC 8259): NaN and +-inf become ``null``
(:func:`strict_json_value`); ``json.dumps(..., allow_nan=False)`` then guarantees that nothing else
slips through.

The reader :func:`read_npz` is the other side: a damaged archive is a ``ValueError`` that names the
file, what is wrong and what to do, never a bare zipfile/pickle error.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

__all__ = ["iter_jsonl", "atomic_path", "atomic_write_bytes", "atomic_write_text", "atomic_write_json",
           "strict_json_value", "dumps_strict", "read_npz"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a unique temporary path next to ``path``; on success it is fsync-ed and renamed onto it.

    Parameters
    ----------
    path : path-like
        The final file.  Its folder is created if missing.
    suffix : str, optional
        Suffix of the temporary name (default: ``path``'s own suffix, so that writers which choose a
        format by suffix, such as ``np.savez`` or ``Figure.savefig``, see the right one).

    Raises
    ------
    OSError
        When the folder cannot be written; the message names ``path`` (not the temporary file).
        On any exception the temporary file is removed and ``path`` is left as it was.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "x.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (d / "x.txt").read_text(), sorted(p.name for p in d.iterdir())
    ('hello', ['x.txt'])
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-",
                                        suffix=path.suffix if suffix is None else suffix)
    except OSError as e:
        raise OSError(f"cannot write {path}: {e.strerror or e} (is the folder writable?)") from e
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)      # mkstemp makes 0600; a result file gets the usual mode
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def strict_json_value(obj: Any) -> Any:
    """A JSON-ready copy of ``obj``: NumPy scalars/arrays to Python, non-finite floats to ``None``.

    Dicts, lists, tuples, dataclass-free plain containers and NumPy arrays are walked; paths become
    strings.  Anything else is returned unchanged (``json`` then raises on what it cannot encode).

    >>> strict_json_value({"a": float("nan"), "b": np.array([1.0, np.inf]), "c": np.int64(3)})
    {'a': None, 'b': [1.0, None], 'c': 3}
    """
    if isinstance(obj, dict):
        return {str(k): strict_json_value(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json_value(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return strict_json_value(obj.tolist())
    if isinstance(obj, np.generic):
        return strict_json_value(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def dumps_strict(obj: Any, **kw) -> str:
    """``json.dumps`` of :func:`strict_json_value` (obj) with ``allow_nan=False``."""
    return json.dumps(strict_json_value(obj), allow_nan=False, **kw)


def atomic_write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = None) -> Path:
    """Write ``obj`` as strict JSON (NaN/inf -> null) to ``path`` atomically; returns the path."""
    return atomic_write_text(path, dumps_strict(obj, indent=indent) + "\n")


_REMEDY = "delete it, or start over (resume=False; on the command line --fresh), or use another folder"


def read_npz(path: str | os.PathLike, *, what: str = "data file", remedy: str = _REMEDY) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file, loaded into memory (no pickles).

    Raises
    ------
    ValueError
        When the file is not a readable ``.npz`` archive (truncated, a bad CRC, not a zip, pickled
        objects); the message names the file, what is wrong and ``remedy``.
    """
    import zipfile
    import zlib

    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise ValueError("a single .npy array, not an .npz archive")
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as e:
        raise ValueError(f"{what} {path} is corrupted or not an .npz archive "
                         f"({type(e).__name__}: {e}); {remedy}") from e


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[str, Any]]:
    """The records of a JSON Lines file as ``(where, record)``, ``where`` = ``"<path>:<line>"`` for
    error messages; blank lines are skipped.

    Raises
    ------
    ValueError
        ``"<path>:<line>: invalid JSON (...)"`` at the first line that does not parse.
    """
    path = Path(path)
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{where}: invalid JSON ({err.msg})") from None

