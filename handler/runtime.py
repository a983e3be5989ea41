"""The process's one ``openvino.Core``, created on first use.

Importing openvino costs time; keeping it out of module import lets entry
points that never infer (``--help``, a bad flag) start and stop at once.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_core: Any = None
_extensions: set[str] = set()


def get_core(cpu_extension: str | None = None) -> Any:
    """The shared Core, with ``cpu_extension`` (custom operations) added once."""
    global _core
    with _lock:
        if _core is None:
            import openvino as ov

            _core = ov.Core()
        if cpu_extension and cpu_extension not in _extensions:
            _core.add_extension(cpu_extension)
            _extensions.add(cpu_extension)
        return _core
