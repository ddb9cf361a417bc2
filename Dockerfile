# SchemaHub daemon image (AWS ECS, linux/amd64). Build: docker build -t schemahub .
# Run: docker run -p 8080:8080 -v schemahub-data:/data schemahub   (the embedded lake in /data)
# tests/deploy/test_container.py runs this file's ENTRYPOINT + CMD with its ENV, as uid 10001,
# in the environment `make image-env` builds with the same script as the build stage below.

FROM python:3.11-slim-bookworm AS build
# The compiler is needed for the two C extensions only; it stays in this stage.
# DL3008 (apt versions not pinned): Debian's security updates replace exact versions within a
# release, so pins would break the build; the base image's tag fixes the release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# The locked runtime dependencies first: this layer is rebuilt only when a lock changes.
COPY requirements.lock requirements-build.lock deploy/scripts/image-env.sh ./
RUN sh image-env.sh deps /opt/venv
COPY pyproject.toml setup.py README.md ./
COPY service ./service
# Builds the wheel (no test extras) and fails here if a C extension did not compile.
RUN sh image-env.sh project /opt/venv

FROM python:3.11-slim-bookworm
# The daemon's user, and /data: its only writable folder (the embedded lake, captures).
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /data \
        --shell /usr/sbin/nologin schemahub \
    && install -d -o 10001 -g 10001 -m 0750 /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY config ./config
# The ops server listens beyond loopback (ECS health checks, Prometheus); the default lake is in
# /data. Any config key can be overridden the same way (README: Configuration).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SCHEMAHUB_HTTP__HOST=0.0.0.0 \
    SCHEMAHUB_LAKE__WAREHOUSE=/data/warehouse
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8080
# Liveness, not readiness: a venue refusing us shows in /readyz but must not get the task killed.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SCHEMAHUB_HTTP__PORT', '8080'), timeout=4)"]
# SIGTERM from `docker stop` / ECS: stop reading, flush, commit, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["schemahub"]
CMD ["serve", "--config", "config/schemahub.yaml"]
