# Referee's service image: the API (`referee serve`) and the workers (`referee worker`) run it.
#   docker build -t referee .                      # the service (API and workers)
#   docker build -t referee-grm --target grm .     # plus the generative reward model extra
# BASE_IMAGE is any Debian-based image with Python >= 3.11 and the venv module
# (scripts/build-images builds one with debootstrap for hosts without a registry).
ARG BASE_IMAGE=python:3.11-slim

# The system packages the sandbox and the compilers need (bubblewrap, gcc, g++, node, JDK, rustc).
FROM ${BASE_IMAGE} AS system
ENV DEBIAN_FRONTEND=noninteractive PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/src
COPY scripts/ensure-system-packages scripts/system-packages.txt scripts/
RUN bash scripts/ensure-system-packages --runtime && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
    && python3 -m venv /opt/referee

# Install into a virtualenv in a throwaway stage; only the environment is carried forward.
FROM system AS build
COPY pyproject.toml README.md ./
COPY verifiers/ verifiers/
COPY sandbox/ sandbox/
COPY server/ server/
COPY envs/ envs/
COPY client/ client/
RUN /opt/referee/bin/pip install --no-cache-dir ./client .

FROM build AS build-grm
RUN /opt/referee/bin/pip install --no-cache-dir '.[grm]'

FROM system AS service
COPY --from=build /opt/referee /opt/referee
ENV PATH=/opt/referee/bin:$PATH
# The API needs no privileges. Workers run as this user too: bubblewrap then builds the sandbox in
# an unprivileged user namespace (the compose file gives the worker the security options for it).
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/referee referee
USER referee
WORKDIR /var/lib/referee
EXPOSE 8000
# Binding beyond loopback requires API keys: REFEREE_API_KEYS or REFEREE_API_KEYS_FILE.
CMD ["referee", "serve", "--host", "0.0.0.0", "--port", "8000"]

FROM system AS grm
COPY --from=build-grm /opt/referee /opt/referee
ENV PATH=/opt/referee/bin:$PATH
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/referee referee
USER referee
WORKDIR /var/lib/referee
EXPOSE 8100
CMD ["referee", "grm", "serve", "--host", "0.0.0.0", "--port", "8100"]
