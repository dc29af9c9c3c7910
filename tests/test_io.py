"""grokphase._io: atomic writes leave no temporary file, keep the old file on failure, and give
the new file the mode a plain open() would (mkstemp's 0600 is not kept)."""

import os

import pytest

from grokphase._io import atomic_path, atomic_write_json


def test_written_file_has_the_umask_mode(tmp_path):
    umask = os.umask(0o022)
    try:
        path = atomic_write_json(tmp_path / "r.json", {"a": float("nan")})
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644
    assert path.read_text() == '{"a": null}\n'


def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "x.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("new")
            raise RuntimeError("writer failed")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]
