# syntax=docker/dockerfile:1
# The sla-pipeline image: one program, every job a subcommand
# (docker run IMAGE consume|produce|report|...).
# Two stages so the final image carries a ready virtualenv and no build tooling.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Metadata first, then the packages: editing code does not bust the venv layer's inputs twice.
COPY pyproject.toml README.md constraints.txt ./
COPY domain/ domain/
COPY producer/ producer/
COPY consumer/ consumer/
COPY infra/ infra/
COPY cli/ cli/
# confluent-kafka and psycopg[binary] ship manylinux wheels (librdkafka, libpq inside),
# so no compiler is needed here. constraints.txt pins every dependency: rebuilding the image
# installs the versions the tests ran, not whatever is newest that day.
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --constraint constraints.txt /wheels/*.whl \
    && /opt/venv/bin/sla-pipeline --help > /dev/null

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="logistics-sla-pipeline" \
      org.opencontainers.image.description="Streaming pipeline for e-commerce delivery SLAs" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# A fixed numeric uid so orchestrators that insist on non-root (runAsNonRoot) accept it.
RUN groupadd --system --gid 10001 sla \
    && useradd --system --uid 10001 --gid sla --home-dir /home/sla --create-home sla
COPY --from=build /opt/venv /opt/venv
# The default SQLite file (sla.db) and generated CSVs land in the working directory.
WORKDIR /home/sla
USER 10001:10001
# Prometheus metrics of `consume --metrics-port 9100`.
EXPOSE 9100
ENTRYPOINT ["sla-pipeline"]
CMD ["--help"]
