# One image for every liveness process: `liveness serve`, `liveness migrate`,
# `liveness scheduler` and `liveness worker` (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/liveness
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY monitors ./monitors
COPY app ./app
# Editable, so the package runs from this directory: `liveness migrate` reads alembic.ini and
# alembic/ next to app/ (app/migrations.py), which a plain wheel install would not carry.
RUN pip install -e . \
    && useradd --system --uid 10001 --home-dir /var/lib/liveness --create-home liveness

USER liveness
# SQLite files (embedded mode) and the .env lookup live in the user's directory, never in the code.
WORKDIR /var/lib/liveness
ENV LIVENESS_DATABASE_URL=sqlite:////var/lib/liveness/liveness.db \
    LIVENESS_HOST=0.0.0.0
EXPOSE 8000 9101 9102

ENTRYPOINT ["liveness"]
CMD ["serve"]
