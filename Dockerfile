# One image for every party of the testbed and for its harness; the command picks what runs:
#   uvicorn --factory spine_mock.app:create_app --host 0.0.0.0 --port 8001   (or just: spine)
#   uvicorn --factory trust_pas.app:create_app --host 0.0.0.0 --port 8002    (or just: pas)
#   uvicorn --factory gp_system.app:create_app --host 0.0.0.0 --port 8003    (or just: gp)
#   uvicorn --factory booking_broker.app:create_app --host 0.0.0.0 --port 8000 (or just: broker)
#   uvicorn --factory middleware.app:create_app --host 0.0.0.0 --port 8004   (or just: middleware)
#   uvicorn --factory legacy_pas.app:create_app --host 0.0.0.0 --port 8005   (or just: legacy-pas)
#   testbed run --scenario scenarios/dropped-booking-messages.yaml --host ...
#
# BASE_IMAGE: a Debian-like image with Python 3.11+ and its venv module: python:3.11-slim by default,
# testbed/base-python:bookworm where no registry can be reached (docker/build-base-images.sh).
# PIP_INSTALL_FROM: "index" (default) installs the dependencies from the package index as pip is set
# up for the build; "wheels" installs them with --no-index from docker/wheels/, which
# docker/build-images.sh fills on the host with `pip wheel`, so that the build needs no network.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS base
ARG PIP_INSTALL_FROM=index
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
# Everything that does not depend on the code comes first, so that a change of the code rebuilds
# only the last few steps.
RUN python3 -m venv /opt/venv \
 && useradd --system --uid 10001 --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin testbed \
 && mkdir -p /app/runs /app/.testbed \
 && chown -R testbed:testbed /app
WORKDIR /app
HEALTHCHECK --interval=5s --timeout=4s --start-period=60s --retries=3 \
  CMD ["/bin/bash", "/usr/local/lib/testbed/healthcheck.sh"]
ENTRYPOINT ["/bin/sh", "/usr/local/lib/testbed/entrypoint.sh"]
CMD ["broker"]
# The dependencies and the project's build backend, in a layer that changes only with pyproject.toml,
# constraints.txt or the wheels.
COPY pyproject.toml constraints.txt docker/wheels/ /wheels/
RUN set -e; \
    case "$PIP_INSTALL_FROM" in \
      wheels) from="--no-index --find-links /wheels" ;; \
      index) from="" ;; \
      *) echo "PIP_INSTALL_FROM must be index or wheels, not '$PIP_INSTALL_FROM'" >&2; exit 2 ;; \
    esac; \
    python3 -c 'import tomllib; p = tomllib.load(open("/wheels/pyproject.toml", "rb")); \
                print("\n".join(p["project"]["dependencies"] + p["build-system"]["requires"]))' \
      >/tmp/requirements.txt; \
    pip install -q $from -c /wheels/constraints.txt -r /tmp/requirements.txt; \
    rm -f /tmp/requirements.txt

# The project's own wheel, built from the source in a stage of its own: the source (and the wheels
# that come with the build context) stay out of the final image.
FROM base AS project
LABEL org.testbed.build-stage=project
COPY . /src/
RUN set -e; \
    pip wheel -q --no-index --no-build-isolation --no-deps --wheel-dir /out/opt/dist /src; \
    mkdir -p /out/app /out/usr/local/lib/testbed; \
    cp -r /src/scenarios /out/app/; \
    cp /src/docker/entrypoint.sh /src/docker/healthcheck.sh /out/usr/local/lib/testbed/; \
    chown testbed:testbed /out/app

FROM base
COPY --from=project /out/ /
RUN pip install -q --no-deps /opt/dist/*.whl && rm -rf /opt/dist
USER testbed
