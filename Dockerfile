FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir uv
WORKDIR /srv/lyceum
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY app app
COPY jobs jobs
COPY alembic alembic
COPY alembic.ini ./
COPY content content
COPY frontend frontend
RUN uv sync --frozen --no-dev
EXPOSE 8000
CMD ["uvicorn", "app.asgi:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
