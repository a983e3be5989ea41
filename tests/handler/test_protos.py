"""Our hand-written TF Serving protos: the same wire format as the official ones, generated code fresh, no clashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.clients import REPO, tf_python
from tests.clients.dump_tfs_descriptors import describe
from tests.descriptors import assert_messages_match

OURS = (
    "tensorflow.serving.PredictRequest",
    "tensorflow.serving.PredictResponse",
    "tensorflow.serving.GetModelMetadataRequest",
    "tensorflow.serving.GetModelMetadataResponse",
    "tensorflow.serving.SignatureDefMap",
    "tensorflow.serving.GetModelStatusRequest",
    "tensorflow.serving.GetModelStatusResponse",
)
# Official fields deliberately left out, each an unknown field on our wire; the reasons stand in the .proto files.
OMITTED = {
    "tensorflow.serving.PredictRequest": {"predict_streamed_options", "request_options"},
    "tensorflow.TensorInfo": {"composite_tensor"},
}


def official_descriptors() -> dict:
    result = subprocess.run(
        [tf_python(), str(REPO / "tests" / "clients" / "dump_tfs_descriptors.py")],
        capture_output=True, text=True, check=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    return json.loads(result.stdout)


def test_every_field_matches_the_official_descriptors():
    from ovserve.handler.protos import _pool, serving_services_pb2  # noqa: F401  (registers the services)

    official = official_descriptors()
    ours = describe(_pool.POOL, OURS)
    assert_messages_match(ours, official, OMITTED, at_least=20)
    for service, methods in ours["services"].items():
        for method, types in methods.items():
            assert official["services"][service][method] == types, f"{service}/{method}"


def test_generated_code_is_fresh(tmp_path: Path):
    """`make protos` into a scratch folder must reproduce the committed files byte for byte."""
    subprocess.run([sys.executable, str(REPO / "tools" / "generate_protos.py"), str(tmp_path)], check=True, capture_output=True)
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.py"))
    assert generated, "the generator wrote nothing"
    for relative in generated:
        committed = REPO / relative
        assert committed.exists(), f"{relative} is generated but not committed"
        assert committed.read_text() == (tmp_path / relative).read_text(), f"{relative} is stale: run make protos"
    committed_generated = sorted(
        p.relative_to(REPO) for p in [*REPO.glob("handler/protos/*_pb2.py"), *REPO.glob("tests/grpc_generated/*_pb2_grpc.py")]
    )
    assert committed_generated == generated, "committed generated files without a .proto source"


def test_our_messages_stay_out_of_the_default_pool():
    """Loading ours never registers tensorflow.* symbols where TensorFlow or ovmsclient would collide."""
    code = (
        "from google.protobuf import descriptor_pool\n"
        "from ovserve.handler.protos import serving_services_pb2\n"
        "from tests.grpc_generated import serving_services_pb2_grpc\n"
        "import ovmsclient\n"  # registers the official tensorflow.* names in the default pool
        "from ovmsclient.tfs_compat.protos.tensorflow_serving.apis import predict_pb2\n"
        "from ovserve.handler.protos import serving_apis_pb2\n"
        "ours = serving_apis_pb2.PredictRequest(); ours.model_spec.name = 'm'\n"
        "print(predict_pb2.PredictRequest.FromString(ours.SerializeToString()).model_spec.name)\n"
        "print(serving_apis_pb2.PredictRequest.DESCRIPTOR.file.pool is descriptor_pool.Default())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.split() == ["m", "False"]
