"""SnapStart hooks: compile before the snapshot, so a restored environment answers at once.

Used only when Lambda initialises for SnapStart
(``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``; ``snapshot-restore-py`` comes
with awslambdaric). Snapshot init may take up to 15 minutes,
well beyond the 10 s of a normal init, so compiling there is free for callers.
"""

from __future__ import annotations

import logging

from .runtime import Runtime

log = logging.getLogger("ovserve.lambda")


def register_hooks(runtime: Runtime) -> None:
    """Compile every model before the snapshot is taken."""
    try:
        from snapshot_restore_py import register_before_snapshot
    except ImportError:
        log.warning("snapshot-restore-py is not installed; models compile on the first request after restore")
        return

    @register_before_snapshot
    def compile_models() -> None:
        runtime.compile_all()
        log.info("models compiled before the snapshot")
