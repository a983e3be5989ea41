"""Size limits shared by every body decoder; a module of its own so importing it costs nothing."""

from __future__ import annotations

# The most one request may make us allocate for its arrays, whatever its sizes declare (gRPC's own message limit is 2 GiB).
DEFAULT_MAX_BYTES = 1 << 30
