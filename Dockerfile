# The service image: `docker compose up -d --build` (compose.yaml adds PostgreSQL).
# The app finds its migrations and definitions beside its package, so the source tree lives at
# /app and the virtual environment installs it in place.

# Build: compilers for any dependency without a wheel for this platform; none reach the image.
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install --yes --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /app
# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && /opt/venv/bin/pip install --requirement /tmp/requirements.txt
COPY app ./app
COPY analysis ./analysis
RUN /opt/venv/bin/pip install --no-deps --editable .

# Run: slim Python, the virtual environment and the source, no build tools, not root.
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 survey \
    && useradd --system --uid 10001 --gid survey --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin survey
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
COPY alembic.ini ./
COPY migrations ./migrations
COPY survey_definitions ./survey_definitions
COPY docker/entrypoint.sh ./docker/entrypoint.sh
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
