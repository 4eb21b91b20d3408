# The embedded service in one container: API + local worker pool.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY scripts/ scripts/
RUN bash scripts/ensure-system-packages && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY verifiers/ verifiers/
COPY sandbox/ sandbox/
COPY server/ server/
COPY envs/ envs/
COPY client/ client/
RUN pip install --no-cache-dir ./client .
EXPOSE 8000
# Binding beyond loopback requires API keys: pass REFEREE_API_KEYS (or REFEREE_API_KEYS_FILE).
CMD ["referee", "serve", "--host", "0.0.0.0", "--port", "8000"]
