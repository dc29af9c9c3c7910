"""A run folder is identified by its full configuration: ``config.json`` in the folder, checked on
every rerun, and folder names that carry a hash of the configuration.

Used by the uniformity experiments (``docs/uniformity_med.md``); no silent reuse: resuming a
folder with another configuration is an error naming the differing fields.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from grokphase._io import atomic_write_json, dumps_strict
from grokphase.sweep import config_diff

__all__ = ["config_hash", "check_run_config"]

CONFIG_FILE = "config.json"


def config_hash(config: dict, n: int = 10) -> str:
    """First n hex digits of the SHA-256 of the configuration's strict, key-sorted JSON."""
    return hashlib.sha256(dumps_strict(config, sort_keys=True).encode()).hexdigest()[:n]


def check_run_config(run_dir, config: dict, *, resume: bool) -> None:
    """With ``resume`` and an existing ``run_dir/config.json``: raise ValueError naming every
    differing field unless it equals ``config``.  Then (re)write the file with ``config``."""
    path = Path(run_dir) / CONFIG_FILE
    config = json.loads(dumps_strict(config))
    if resume and path.exists():
        diff = config_diff(json.loads(path.read_text()), config)
        if diff:
            raise ValueError(f"{run_dir} holds a run with another configuration (stored != now: {'; '.join(diff)}); "
                             "use another run folder, or resume=False to start afresh")
    atomic_write_json(path, config, indent=1)
