"""Regenerates the committed protobuf/gRPC modules from handler/protos/*.proto (``make protos``).

The .proto files use TensorFlow's package names (so method paths and type URLs
match TF Serving) and KServe v2's ``inference`` package (grpc_service.proto) but live under ``ovserve/handler/protos`` so the generated
modules never import or shadow ``tensorflow``. Generated message modules are
rewired to a private descriptor pool (``ovserve.handler.protos._pool``): the
official protos register the same symbol names in protobuf's default pool, and
a process that loads both (a test next to ovmsclient, a notebook with
tensorflow) must not fail with "duplicate symbol".

Usage: python tools/generate_protos.py [OUTPUT_ROOT]   (default: the repository)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "handler" / "protos"
PACKAGE = "ovserve/handler/protos"
DEFAULT_POOL = "_descriptor_pool.Default().AddSerializedFile("
PRIVATE_POOL = "_private_pool.POOL.AddSerializedFile("
POOL_IMPORT = "from ovserve.handler.protos import _pool as _private_pool\n"
# Generated stubs import grpc, which the core must not: they go to the server package.
STUBS = {
    name: Path("tests") / "grpc_generated" / name for name in ("serving_services_pb2_grpc.py", "grpc_service_pb2_grpc.py")
}


def _rewire(text: str) -> str:
    if DEFAULT_POOL not in text:
        raise SystemExit("generated code changed shape: no default-pool registration to rewire")
    text = text.replace(DEFAULT_POOL, PRIVATE_POOL)
    anchor = "from google.protobuf.internal import builder as _builder\n"
    return text.replace(anchor, anchor + POOL_IMPORT, 1)


def generate(output_root: Path) -> list[Path]:
    """Writes the generated files under ``output_root``; returns their paths."""
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as scratch:
        staged = Path(scratch) / PACKAGE
        staged.mkdir(parents=True)
        protos = sorted(SOURCE.glob("*.proto"))
        for proto in protos:
            shutil.copy(proto, staged / proto.name)
        subprocess.run(
            [
                sys.executable, "-m", "grpc_tools.protoc", f"-I{scratch}", f"-I{well_known}",
                f"--python_out={scratch}", f"--grpc_python_out={scratch}",
                *[f"{PACKAGE}/{p.name}" for p in protos],
            ],
            check=True,
            cwd=scratch,
        )
        for generated in sorted(staged.glob("*_pb2.py")):
            target = output_root / "handler" / "protos" / generated.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_rewire(generated.read_text()))
            written.append(target)
        for name, relative in STUBS.items():
            target = output_root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text((staged / name).read_text())
            written.append(target)
    return written


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO
    for path in generate(root):
        print(path)
