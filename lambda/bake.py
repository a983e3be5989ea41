"""``python -m ovserve.aws_lambda.bake``: compile the image's model once, at build time, into the cache.

Run as a Dockerfile step with the same environment the function has
(``MODEL_PATH``, ``OVSERVE_CACHE_DIR``, plugin settings): the compile follows
the exact path a cold start takes, so the cold start finds its blob and loads
it instead of compiling. The blobs are made world-readable, because Lambda
runs the function as a non-root user. A cold start on a CPU that differs from
the build machine's simply compiles (the read-only cache is then not used).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> int:
    from . import settings as lambda_settings
    from .runtime import Runtime

    settings = lambda_settings.load()
    runtime = Runtime(settings)
    runtime.start(compile_now=True)
    caches = {m.cache_dir for m in settings.models if m.cache_dir}
    for cache in caches:
        for root, dirs, files in os.walk(cache):
            for name in dirs:
                os.chmod(Path(root) / name, 0o755)
            for name in files:
                os.chmod(Path(root) / name, 0o644)
        os.chmod(cache, 0o755)
        print(f"compiled-model cache ready: {cache} ({sum(1 for _ in Path(cache).iterdir())} blobs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
