"""Size limits shared by every body decoder and encoder; a module of its own so importing it costs nothing."""

from __future__ import annotations

# The most one request may make us allocate for its arrays, whatever its sizes declare (gRPC's own message limit is 2 GiB).
DEFAULT_MAX_BYTES = 1 << 30

# The largest answer body (--rest_max_response_mb), estimated from the outputs before anything is encoded.
DEFAULT_MAX_RESPONSE_MB = 256
DEFAULT_MAX_RESPONSE_BYTES = DEFAULT_MAX_RESPONSE_MB << 20

# What one string element costs beyond its bytes once it is a tensor: numpy keeps fixed-width bytes (the longest
# element's length for every element) and OpenVINO a 32-byte std::string per element, plus allocator slack.
STRING_ELEMENT_OVERHEAD = 48
