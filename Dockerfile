# OneRelay: docker build -t onerelay . && docker run -p 3000:3000 -v onerelay-data:/data onerelay

# 1. the web console (Vue SPA) → /console/dist
FROM node:22-slim AS console
WORKDIR /console
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend ./
RUN npm run build

# 2. the server
FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libcurl4-openssl-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md server.py ./
COPY handlers ./handlers
COPY models ./models
COPY adaptors ./adaptors
COPY relay ./relay
COPY services ./services
RUN pip install --no-cache-dir .
COPY --from=console /console/dist ./frontend/dist

ENV DATA_DIR=/data PORT=3000
VOLUME ["/data"]
EXPOSE 3000
CMD ["python", "server.py", "--log-dir", "/data/logs"]
