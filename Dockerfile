# syntax=docker/dockerfile:1
# Lyceum API and worker image (the same image runs both; see docker-compose.yml and deploy/k8s/).
#   docker build -t lyceum .                    (or: docker buildx build --platform linux/amd64,linux/arm64 ...)
# Needs BuildKit (the default in current Docker) for the optional frontend/dist copy below. docs/deploy.md
# describes the image: unprivileged (uid 10001, group 0), runs with a read-only root filesystem, writes only
# under /data (a mounted volume) and /tmp.

# ---- build: uv installs the dependencies and the project into /opt/venv -------------------------------------
FROM python:3.11-slim AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv

RUN pip install --no-cache-dir uv==0.13.9

WORKDIR /srv/lyceum

# Dependencies first: this layer is rebuilt only when pyproject.toml or uv.lock change.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

# The application. alembic/ and content/ are found relative to the code and the working directory.
COPY app app
COPY jobs jobs
COPY alembic alembic
COPY alembic.ini ./
COPY content content

# The built web app (issue 4) is served from frontend/dist when it exists in the build context;
# nothing else under frontend/ (sources, node_modules) goes into the image.
RUN --mount=type=bind,source=frontend,target=/tmp/frontend \
    if [ -d /tmp/frontend/dist ]; then mkdir -p frontend && cp -r /tmp/frontend/dist frontend/dist; fi

# Installs the project itself (the `lyceum` command) into the same environment, then compiles Lyceum's own
# modules: UV_COMPILE_BYTECODE covers site-packages only, and the running image cannot write bytecode (its
# root filesystem is read-only), so without this every process would compile app/ again at each start.
RUN uv sync --frozen --no-dev && /opt/venv/bin/python -m compileall -q app jobs

# ---- runtime: the interpreter, bubblewrap, the environment and the code; no uv, no build tools --------------
FROM python:3.11-slim AS runtime

# HOME=/tmp: a library that caches under ~ writes to the /tmp volume, not the read-only root filesystem.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    HOME=/tmp \
    LYCEUM_DATA_DIR=/data

# bubblewrap: the boundary around learners' code in the worker (docs/decisions/0007-code-sandbox.md).
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*

# Unprivileged: uid 10001, group 0 (so a platform that runs images under an arbitrary uid in group 0, such as
# OpenShift, can still write /data). /data holds the generated development secret key, the filesystem object
# store and the embedded Chroma index; a volume mounted there inherits this ownership.
RUN useradd --system --uid 10001 --gid 0 --no-create-home --home-dir /tmp lyceum \
    && mkdir -p /data && chown 10001:0 /data && chmod 0770 /data

# The venv's interpreter links to this stage's /usr/local/bin/python3.11: the same base image as the build.
COPY --from=build /opt/venv /opt/venv
COPY --from=build /srv/lyceum /srv/lyceum
WORKDIR /srv/lyceum

# Numeric, so Kubernetes' runAsNonRoot can verify it without resolving the name.
USER 10001:0

EXPOSE 8000
# The API's liveness (python: the slim image has no curl). The worker runs the same image without a port:
# docker-compose.yml turns this check off for it, and Kubernetes ignores HEALTHCHECK (deploy/k8s has probes).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=3)"]
# --ws-max-size: refuse WebSocket frames above 64 KiB before buffering them (uvicorn's default is 16 MiB);
# it must be at least the largest frame a socket accepts (docs/configuration.md, "WebSocket frames").
# --timeout-keep-alive: idle connections outlive the load balancer's own idle timeout (LYCEUM_HTTP_KEEPALIVE_SECONDS).
CMD ["uvicorn", "app.asgi:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", \
     "--no-access-log", "--timeout-keep-alive", "75", "--ws", "app.server.ws_protocol:LyceumWebSocketProtocol", "--ws-ping-interval", "20", "--ws-ping-timeout", "20", \
     "--ws-max-size", "65536"]
