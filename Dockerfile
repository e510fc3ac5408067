# syntax=docker/dockerfile:1
# Lyceum API and worker image (the same image runs both; see docker-compose.yml).
#   docker build -t lyceum .
# Needs BuildKit (the default in current Docker) for the optional frontend/dist copy below.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    LYCEUM_DATA_DIR=/data

# bubblewrap: the boundary around learners' code in the worker (docs/decisions/0007-code-sandbox.md).
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/* && pip install --no-cache-dir uv==0.13.9

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

# Installs the project itself (the `lyceum` command) into the same environment.
RUN uv sync --frozen --no-dev

# Run unprivileged. /data holds the generated development secret key and the object store; a named
# volume mounted there inherits this ownership.
RUN useradd --system --uid 10001 --no-create-home --home-dir /srv/lyceum lyceum \
    && mkdir -p /data && chown lyceum /data
# Numeric, so Kubernetes' runAsNonRoot can verify it without resolving the name.
USER 10001

EXPOSE 8000
# --ws-max-size: refuse WebSocket frames above 64 KiB before buffering them (uvicorn's default is 16 MiB);
# it must be at least the largest frame a socket accepts (docs/configuration.md, "WebSocket frames").
CMD ["uvicorn", "app.asgi:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", \
     "--no-access-log", "--ws", "app.server.ws_protocol:LyceumWebSocketProtocol", "--ws-ping-interval", "20", "--ws-ping-timeout", "20", \
     "--ws-max-size", "65536"]
