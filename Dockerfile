# SchemaHub daemon image (AWS ECS). Build: docker build -t schemahub .
FROM python:3.11-slim AS build
# The native extensions (decode/_native.c, mapping/_iso.c under service/schemahub) are compiled here.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY service ./service
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 schemahub
COPY --from=build /install /usr/local
WORKDIR /app
COPY config ./config
USER schemahub
# The ops server must listen beyond loopback inside the container; ECS health checks use it.
ENV SCHEMAHUB_HTTP__HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1
EXPOSE 8080
# SIGTERM from `docker stop` / ECS: stop reading, flush, commit, exit 0 (well inside 30 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["schemahub"]
CMD ["serve", "--config", "config/schemahub.yaml"]
