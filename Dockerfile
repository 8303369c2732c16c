# syntax=docker/dockerfile:1
# pytemporal's container image: docs/operations.md#container.
#
#   docker build -t pytemporal:0.1.0 .
#   docker run --rm -p 7233:7233 -p 8233:8233 -p 9090:9090 pytemporal:0.1.0
#
# The default command is the dev server on a SQLite file in /var/lib/pytemporal; the Helm
# chart (deploy/helm/pytemporal) runs `schema setup|upgrade` and `server start` instead.

ARG PYTHON_VERSION=3.11

# -- build: the project's wheel and the wheels of its dependencies ----------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
WORKDIR /src
# What the wheel is built from and nothing else (.dockerignore keeps the rest out).
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels .

# -- runtime: the wheels installed into a slim image, run as a non-root user ------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# The same numeric ids as the chart's securityContext (runAsUser/runAsGroup 10001).
RUN groupadd --system --gid 10001 pytemporal \
 && useradd --system --uid 10001 --gid pytemporal --home-dir /var/lib/pytemporal \
      --shell /usr/sbin/nologin pytemporal \
 && install -d -o pytemporal -g pytemporal -m 0750 /var/lib/pytemporal
# Only pre-built wheels, no index: the image gets exactly what the build stage resolved.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m pip install --no-cache-dir --no-index --find-links=/wheels pytemporal
USER 10001:10001
WORKDIR /var/lib/pytemporal
VOLUME ["/var/lib/pytemporal"]
# gRPC, internode (server start), HTTP API, web UI, metrics and /health.
EXPOSE 7233 7234 7243 8233 9090
# GET /health on the metrics listener: 200 while serving, 503 while starting or
# draining. Kubernetes ignores HEALTHCHECK and uses the chart's probes instead.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PYTEMPORAL_METRICS_PORT', '9090') + '/health', timeout=2)"
ENTRYPOINT ["pytemporal"]
CMD ["server", "start-dev", "--ip", "0.0.0.0", "--metrics-port", "9090", \
     "--db-filename", "/var/lib/pytemporal/pytemporal.db"]
