# ovserve: one image for SageMaker (real-time, multi-model, batch transform) and the standalone
# TF Serving compatible server.
#   docker run IMAGE serve                          SageMaker mode: /ping and /invocations on 8080
#   docker run IMAGE --model_name m --model_path …  standalone: OVMS flags, gRPC and REST
# tests/sagemaker/test_dockerfile.py runs these install and entry point steps outside Docker.
FROM python:3.11-slim-bookworm

# SageMaker pipelines and multi-container endpoints need the first label; multi-model endpoints the second.
LABEL com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true \
      com.amazonaws.sagemaker.capabilities.multi-models=true \
      org.opencontainers.image.title="ovserve" \
      org.opencontainers.image.description="OpenVINO inference with the TF Serving API, for SageMaker and standalone" \
      org.opencontainers.image.licenses="Apache-2.0"

# Compiled models are cached under OVSERVE_CACHE_DIR (a restart or a second model load skips compiling);
# models fetched from S3/GCS/Azure are mirrored under OVSERVE_STORAGE_CACHE_DIR. Both are writable by any
# user, because SageMaker Serverless does not run the container as root.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OVSERVE_CACHE_DIR=/opt/ovserve/cache \
    OVSERVE_STORAGE_CACHE_DIR=/opt/ovserve/storage

WORKDIR /opt/ovserve
COPY pyproject.toml README.md docker/constraints-server.txt ./src/
COPY handler ./src/handler
COPY server ./src/server
COPY sagemaker ./src/sagemaker
COPY lambda ./src/lambda
# Only what serving needs: no compilers, no test tools, no pip cache, no source tree left behind. Models in S3 are
# read out of the box; add `gcs` or `azure` for gs:// or azure:// models: --build-arg EXTRAS=server,sagemaker,gcs
ARG EXTRAS=server,sagemaker
RUN pip install --no-cache-dir --constraint ./src/constraints-server.txt "./src[${EXTRAS}]" \
    && rm -rf ./src \
    && mkdir -p "$OVSERVE_CACHE_DIR" "$OVSERVE_STORAGE_CACHE_DIR" \
    && chmod 1777 "$OVSERVE_CACHE_DIR" "$OVSERVE_STORAGE_CACHE_DIR"

EXPOSE 8080
# Exec form: the server is PID 1 and receives SageMaker's SIGTERM itself (it drains requests, then exits 0).
ENTRYPOINT ["ovserve-entrypoint"]
CMD ["--help"]
