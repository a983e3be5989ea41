"""Every bad REST request gets a 4xx with ``{"error": message}``, and the server keeps serving.

One real server (module scope) serves four models from a config.json:
``add`` (x + 1, fixed shape [1, 10]), ``two`` (two_in_two_out), ``image``
(image_scale [1, 3, 8, 8]) and ``zeros`` (broadcast_zeros). Each case sends
one bad request, checks the status and that the message names the problem,
then checks that a good request to the same model still gets the right answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import numpy as np
import pytest

from tests import models
from tests.serverproc import Server, serving

ADD_X = [[float(i) for i in range(10)]]
IMAGE = np.arange(3 * 8 * 8, dtype=np.float32).reshape(1, 3, 8, 8)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    builders = {
        "add": models.add_one(),
        "two": models.two_in_two_out(),
        "image": models.image_scale(),
        "zeros": models.broadcast_zeros(),
    }
    with serving(tmp_path_factory.mktemp("rest_errors"), builders) as started:
        yield started


def assert_error(response: httpx.Response, status: int, fragment: str) -> str:
    """``status`` with a JSON body that is exactly ``{"error": message}``, message containing ``fragment``."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    message = body["error"]
    assert isinstance(message, str) and message.strip(), body
    assert fragment.lower() in message.lower(), f"{fragment!r} not in {message!r}"
    return message


def assert_still_serves(server: Server, model: str) -> None:
    """The server is alive and a good request to ``model`` gets the correct answer."""
    assert server.process.poll() is None, f"server exited: {server.read_log()}"
    client = server.client
    if model == "add":
        response = client.post("/v1/models/add:predict", json={"inputs": ADD_X})
        assert response.status_code == 200, response.text
        np.testing.assert_allclose(response.json()["outputs"], np.array(ADD_X) + 1)
    elif model == "two":
        response = client.post("/v1/models/two:predict", json={"inputs": {"a": [[1, 2, 3]], "b": [[4, 5, 6]]}})
        assert response.status_code == 200, response.text
        outputs = response.json()["outputs"]
        assert outputs == {"sum": [[5.0, 7.0, 9.0]], "product": [[4.0, 10.0, 18.0]]}
    elif model == "image":
        response = client.post("/v1/models/image:predict", json={"inputs": IMAGE.tolist()})
        assert response.status_code == 200, response.text
        expected = IMAGE * np.array([1, 2, 3], dtype=np.float32).reshape(1, 3, 1, 1)
        np.testing.assert_allclose(response.json()["outputs"], expected)
    elif model == "zeros":
        response = client.post("/v1/models/zeros:predict", json={"inputs": [2, 3]})
        assert response.status_code == 200, response.text
        assert response.json() == {"outputs": [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]}
    else:
        raise AssertionError(f"no good request known for {model!r}")


@dataclass(frozen=True)
class Case:
    """One bad request: what to send and what must come back."""

    id: str
    model: str  # the model whose good request must still work afterwards
    path: str
    status: int
    fragment: str
    method: str = "POST"
    json_body: object = None
    content: bytes | None = None
    headers: dict = field(default_factory=dict)

    def send(self, client: httpx.Client) -> httpx.Response:
        if self.json_body is not None:
            return client.request(self.method, self.path, json=self.json_body, headers=self.headers)
        return client.request(self.method, self.path, content=self.content, headers=self.headers)


JSON = {"content-type": "application/json"}
ADD = "/v1/models/add:predict"
TWO = "/v1/models/two:predict"
ROW_AB = {"a": [1, 2, 3], "b": [4, 5, 6]}

CASES = [
    # unknown model / version
    Case("unknown-model-predict", "add", "/v1/models/nope:predict", 404, "Model 'nope' not found", json_body={"inputs": ADD_X}),
    Case("unknown-model-status", "add", "/v1/models/nope", 404, "'nope'", method="GET"),
    Case("unknown-model-metadata", "add", "/v1/models/nope/metadata", 404, "'nope'", method="GET"),
    Case("unknown-version-predict", "add", "/v1/models/add/versions/7:predict", 404, "version 7", json_body={"inputs": ADD_X}),
    Case("unknown-version-status", "add", "/v1/models/add/versions/7", 404, "version 7", method="GET"),
    Case("unknown-version-metadata", "add", "/v1/models/add/versions/7/metadata", 404, "version 7", method="GET"),
    Case("non-numeric-version", "add", "/v1/models/add/versions/latest:predict", 404, "'latest'", json_body={"inputs": ADD_X}),
    Case("huge-version", "add", "/v1/models/add/versions/99999999999999999999:predict", 404, "positive integers",
         json_body={"inputs": ADD_X}),
    Case("negative-version", "add", "/v1/models/add/versions/-1", 404, "'-1'", method="GET"),
    # bodies that are not a predict request
    Case("empty-body", "add", ADD, 400, "body is empty", content=b"", headers=JSON),
    Case("whitespace-body", "add", ADD, 400, "body is empty", content=b"  \n ", headers=JSON),
    Case("array-body", "add", ADD, 400, "JSON list", content=b"[]", headers=JSON),
    Case("string-body", "add", ADD, 400, "JSON str", content=b'"inputs"', headers=JSON),
    Case("malformed-json", "add", ADD, 400, "not valid JSON", content=b'{"inputs": [[1, 2,', headers=JSON),
    Case("single-quotes", "add", ADD, 400, "not valid JSON", content=b"{'inputs': [[1]]}", headers=JSON),
    # top-level keys
    Case("both-inputs-and-instances", "add", ADD, 400, "Invalid inputs in request body",
         json_body={"inputs": ADD_X, "instances": ADD_X}),
    Case("neither-inputs-nor-instances", "add", ADD, 400, "exactly one of", json_body={"signature_name": "serving_default"}),
    Case("empty-object", "add", ADD, 400, "exactly one of", json_body={}),
    Case("misspelled-top-key", "add", ADD, 400, "unknown key 'instance'", json_body={"instance": ADD_X}),
    Case("extra-top-key", "add", ADD, 400, "unknown key 'extra'", json_body={"inputs": ADD_X, "extra": 1}),
    Case("instances-empty", "add", ADD, 400, '"instances" must be a non-empty list', json_body={"instances": []}),
    Case("instances-not-a-list", "add", ADD, 400, '"instances" must be a non-empty list', json_body={"instances": {"x": ADD_X}}),
    Case("inputs-empty-object", "add", ADD, 400, '"inputs" is an empty object', json_body={"inputs": {}}),
    Case("signature-name-not-string", "add", ADD, 400, '"signature_name" must be a string',
         json_body={"inputs": ADD_X, "signature_name": 5}),
    # keys inside rows
    Case("row-wrong-key", "two", TWO, 400, "alias not found in signature: ['c']",
         json_body={"instances": [{"a": [1, 2, 3], "c": [4, 5, 6]}]}),
    Case("row-extra-key", "two", TWO, 400, "alias not found in signature: ['c']",
         json_body={"instances": [{**ROW_AB, "c": [7, 8, 9]}]}),
    Case("row-missing-key", "two", TWO, 400, "missing input tensors: ['b']", json_body={"instances": [{"a": [1, 2, 3]}]}),
    Case("rows-with-different-keys", "two", TWO, 400, "instance 1 has keys ['a']",
         json_body={"instances": [ROW_AB, {"a": [1, 2, 3]}]}),
    Case("rows-mixing-named-and-bare", "two", TWO, 400, "mixes named objects and bare values",
         json_body={"instances": [ROW_AB, [1, 2, 3]]}),
    Case("row-empty-object", "two", TWO, 400, "an instance is an empty object", json_body={"instances": [{}]}),
    Case("simplified-form-on-two-inputs", "two", TWO, 400, "inputs ['a', 'b']", json_body={"inputs": [[1, 2, 3]]}),
    # names
    Case("unknown-input-name", "add", ADD, 400,
         "input tensor alias not found in signature: ['z']. Inputs expected to be in the set ['x']",
         json_body={"inputs": {"z": ADD_X}}),
    Case("unknown-input-name-two", "two", TWO, 400, "Inputs expected to be in the set ['a', 'b']",
         json_body={"inputs": {"a": [[1, 2, 3]], "bb": [[1, 2, 3]]}}),
    Case("output-name-as-input", "add", ADD, 400, "alias not found in signature: ['y']", json_body={"inputs": {"y": ADD_X}}),
    # shapes and batch
    Case("wrong-shape", "image", "/v1/models/image:predict", 400, "Obtained shape [1, 3, 10, 10], required shape [1, 3, 8, 8]",
         json_body={"inputs": np.zeros((1, 3, 10, 10)).tolist()}),
    Case("wrong-rank", "image", "/v1/models/image:predict", 400, "Obtained shape [3, 8, 8], required shape [1, 3, 8, 8]",
         json_body={"inputs": np.zeros((3, 8, 8)).tolist()}),
    Case("wrong-batch", "add", ADD, 400, "Obtained batch size 2, required batch size 1", json_body={"inputs": ADD_X * 2}),
    Case("wrong-batch-rows", "add", ADD, 400, "Obtained batch size 3, required batch size 1", json_body={"instances": ADD_X * 3}),
    Case("wrong-width", "add", ADD, 400, "Obtained shape [1, 9], required shape [1, 10]", json_body={"inputs": [ADD_X[0][:9]]}),
    Case("mismatched-rows-two", "two", TWO, 400, "Obtained shape [1, 2], required shape [-1, 3]",
         json_body={"inputs": {"a": [[1, 2, 3]], "b": [[1, 2]]}}),
    Case("scalar-input", "add", ADD, 400, "Obtained shape [], required shape [1, 10]", json_body={"inputs": 3.0}),
    # content types
    Case("octet-stream", "add", ADD, 415, "'application/octet-stream' is not supported",
         content=json.dumps({"inputs": ADD_X}).encode(), headers={"content-type": "application/octet-stream"}),
    Case("text-csv", "add", ADD, 415, "'text/csv' is not supported",
         content=b"0,1,2,3,4,5,6,7,8,9", headers={"content-type": "text/csv"}),
    Case("multipart", "add", ADD, 415, "'multipart/form-data' is not supported",
         content=b"--x\r\n\r\n--x--\r\n", headers={"content-type": "multipart/form-data; boundary=x"}),
    # methods
    Case("get-on-predict", "add", ADD, 405, "takes POST", method="GET"),
    Case("post-on-status", "add", "/v1/models/add", 405, "takes GET", json_body={"inputs": ADD_X}),
    Case("post-on-metadata", "add", "/v1/models/add/metadata", 405, "takes GET", json_body={"inputs": ADD_X}),
    Case("put-on-predict", "add", ADD, 405, "method PUT is not allowed", method="PUT", json_body={"inputs": ADD_X}),
    Case("delete-on-status", "add", "/v1/models/add", 405, "method DELETE is not allowed", method="DELETE"),
    Case("patch-on-predict", "add", ADD, 405, "method PATCH is not allowed", method="PATCH", json_body={"inputs": ADD_X}),
    # paths
    Case("unknown-action", "add", "/v1/models/add:classify", 404, "':classify' is not available", json_body={"inputs": ADD_X}),
    Case("version-label", "add", "/v1/models/add/labels/stable:predict", 404, "labels are not supported",
         json_body={"inputs": ADD_X}),
    Case("path-too-deep", "add", "/v1/models/add/versions/1/extra/metadata", 404, "no such endpoint", method="GET"),
    # values
    Case("ragged-lists", "add", ADD, 400, "not a rectangular array", json_body={"inputs": [[1, 2], [3]]}),
    Case("ragged-rows", "two", TWO, 400, "not a rectangular array",
         json_body={"instances": [{"a": [1, 2, 3], "b": [4, 5, 6]}, {"a": [1, 2], "b": [4, 5, 6]}]}),
    Case("ragged-deep", "image", "/v1/models/image:predict", 400, "not a rectangular array",
         json_body={"inputs": [[[[1.0] * 8] * 8] * 3, [[[1.0] * 8] * 7] * 3]}),
    Case("null-value", "add", ADD, 400, "must be a rectangular array of numbers", json_body={"inputs": [[None] * 10]}),
    Case("object-value", "add", ADD, 400, "'x'", json_body={"inputs": [[{"v": 1}] * 10]}),
    Case("numeric-string", "add", ADD, 400, "strings are not converted", json_body={"inputs": [["1.5"] * 10]}),
    Case("one-numeric-string", "add", ADD, 400, "strings are not converted", json_body={"inputs": [[0.5] * 9 + ["1.5"]]}),
    Case("booleans", "add", ADD, 400, "booleans are not converted", json_body={"inputs": [[True] * 10]}),
    Case("b64-into-float", "add", ADD, 400, '"b64" values are only accepted for string inputs',
         json_body={"inputs": [[{"b64": "AAAA"}] * 10]}),
    Case("float-beyond-f32", "add", ADD, 400, "out of the range of f32", json_body={"inputs": [[1e39] * 10]}),
    Case("fraction-into-int64", "zeros", "/v1/models/zeros:predict", 400, "integers expected", json_body={"inputs": [2.5, 3]}),
    Case("nan-literal", "add", ADD, 400, "NaN and Infinity are not JSON numbers",
         content=b'{"inputs": [[NaN, 1, 2, 3, 4, 5, 6, 7, 8, 9]]}', headers=JSON),
    Case("infinity-literal", "add", ADD, 400, "NaN and Infinity are not JSON numbers",
         content=b'{"inputs": [[Infinity, 1, 2, 3, 4, 5, 6, 7, 8, 9]]}', headers=JSON),
    Case("negative-infinity-literal", "add", ADD, 400, "NaN and Infinity are not JSON numbers",
         content=b'{"inputs": [[-Infinity, 1, 2, 3, 4, 5, 6, 7, 8, 9]]}', headers=JSON),
    Case("non-utf8-bytes", "add", ADD, 400, "not valid JSON", content=b'{"inputs": [[\xff\xfe\x00\x81]]}', headers=JSON),
    Case("non-utf8-in-string", "add", ADD, 400, "not valid JSON", content=b'{"inputs": "\xc3\x28\xa0\xa1"}', headers=JSON),
    Case("deeply-nested", "add", ADD, 400, "not valid JSON",
         content=b'{"inputs": ' + b"[" * 5000 + b"1" + b"]" * 5000 + b"}", headers=JSON),
    Case("deeply-nested-large", "add", ADD, 400, "depth limit exceeded",
         content=b'{"instances": ' + b"[" * 1100 + b"]" * 1100 + b"}" + b" " * 70_000, headers=JSON),
    Case("unknown-signature-name", "add", ADD, 400, 'expected "serving_default"',
         json_body={"inputs": ADD_X, "signature_name": "predict"}),
    Case("trailing-garbage", "add", ADD, 400, "not valid JSON",
         content=json.dumps({"inputs": ADD_X}).encode() + b"garbage", headers=JSON),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_request_is_a_clear_4xx_and_the_model_keeps_serving(server: Server, case: Case) -> None:
    assert_error(case.send(server.client), case.status, case.fragment)
    assert_still_serves(server, case.model)


def test_unknown_model_message_names_it(server: Server) -> None:
    response = server.client.post("/v1/models/nope:predict", json={"inputs": ADD_X})
    message = assert_error(response, 404, "nope")
    assert "not found" in message
    assert_still_serves(server, "add")


def test_wrong_shape_message_names_the_input(server: Server) -> None:
    response = server.client.post("/v1/models/image:predict", json={"inputs": np.zeros((1, 3, 10, 10)).tolist()})
    message = assert_error(response, 400, "'image'")
    assert "Obtained shape [1, 3, 10, 10], required shape [1, 3, 8, 8]" in message
    assert_still_serves(server, "image")


def test_twenty_megabytes_of_garbage(server: Server) -> None:
    rng = np.random.default_rng(7)
    garbage = rng.integers(0, 256, size=20 * 1024 * 1024, dtype=np.uint8).tobytes()
    response = server.client.post(ADD, content=garbage, headers=JSON)
    assert_error(response, 400, "not valid JSON")
    assert len(response.content) < 10_000, "the error must not echo the payload"
    assert_still_serves(server, "add")


def test_twenty_megabytes_of_valid_json_with_the_wrong_shape(server: Server) -> None:
    body = {"inputs": np.zeros((1, 3, 8, 8 * 20_000)).tolist()}  # ~4.8 M numbers
    response = server.client.post("/v1/models/image:predict", json=body)
    message = assert_error(response, 400, "required shape [1, 3, 8, 8]")
    assert "Obtained shape [1, 3, 8, 160000]" in message
    assert len(response.content) < 10_000
    assert_still_serves(server, "image")


def test_negative_broadcast_shape_is_refused(server: Server) -> None:
    response = server.client.post("/v1/models/zeros:predict", json={"inputs": [-1, 3]})
    assert_error(response, 400, "inference failed for this input")
    assert_still_serves(server, "zeros")


def test_error_bodies_are_json_even_for_unrouted_paths(server: Server) -> None:
    response = server.client.get("/v1/nothing/here")
    assert_error(response, 404, "not found")
    assert_still_serves(server, "add")


# Kept last: the ones above must not pay for a failure here (the broadcast model is left unusable).
def test_output_of_a_trillion_elements_is_refused_and_the_model_recovers(server: Server) -> None:
    for _ in range(4):  # every inference slot has served [2, 3] before the bad request
        assert_still_serves(server, "zeros")
    response = server.client.post("/v1/models/zeros:predict", json={"inputs": [1_000_000, 1_000_000]})
    message = assert_error(response, 503, "inference failed for this input: out of memory")  # not the client's fault
    assert "4000000000000 bytes" in message
    for _ in range(4):  # whichever slot answers, the same good request still succeeds
        assert_still_serves(server, "zeros")


def test_server_is_alive_after_all_bad_requests(server: Server) -> None:
    assert server.process.poll() is None, server.read_log()
    assert server.client.get("/v2/health/live").status_code == 200
    assert server.client.get("/v2/health/ready").status_code == 200
    for model in ("add", "two", "image"):
        assert_still_serves(server, model)
