"""The core library must not drag in web or RPC frameworks (Lambda cold start depends on it)."""

from __future__ import annotations

import subprocess
import sys

from tests.serverproc import REPO

CORE_MODULES = [
    "ovserve.handler",
    "ovserve.handler.engine",
    "ovserve.handler.repository",
    "ovserve.handler.model",
    "ovserve.handler.settings.server",
    "ovserve.handler.codecs.tfs_json",
    "ovserve.handler.codecs.tfs_proto",
    "ovserve.handler.codecs.tensor_proto",
    "ovserve.handler.logs",
]


def test_core_imports_leave_sanic_and_grpc_out():
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in CORE_MODULES)
        + "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sanic', 'grpc', 'tensorflow')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "[]"


def test_bare_package_import_does_not_load_openvino():
    code = "import sys, ovserve.handler; print('openvino' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "False"


def test_the_front_ends_open_their_ports_before_openvino_is_imported():
    """Servers listen (and answer SIGTERM) before the slow openvino import: it happens with the first model load."""
    code = "import sys, ovserve.server.main, ovserve.sagemaker.main, ovserve.handler.engine; print('openvino' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "False"
