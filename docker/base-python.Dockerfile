# Debian's Python 3.11 with venv and pip on the debootstrapped Debian image: the local stand-in for
# python:3.11-slim (built by docker/build-base-images.sh, tagged testbed/base-python:bookworm).
ARG DEBIAN_IMAGE=testbed/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-pip ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s /usr/bin/python3 /usr/local/bin/python
ENV LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1
CMD ["python3"]
