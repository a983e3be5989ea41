"""Official clients run outside the test process.

tensorflow-serving-api needs all of TensorFlow and registers TensorFlow's own
protos; it runs with its own interpreter (``make test`` builds
``.venv-tfclient``; ``OVSERVE_TF_PYTHON`` may point elsewhere).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.serverproc import REPO


def tf_python() -> str:
    """The interpreter that has tensorflow-serving-api installed; fails loudly when absent."""
    path = os.environ.get("OVSERVE_TF_PYTHON") or str(REPO / ".venv-tfclient" / "bin" / "python")
    assert Path(path).exists(), f"no TF Serving client interpreter at {path}: run `make test` (it builds .venv-tfclient)"
    return path
