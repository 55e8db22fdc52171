# OneRelay: docker build -t onerelay . && docker run -p 3000:3000 -v onerelay-data:/data onerelay
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
COPY frontend ./frontend
RUN pip install --no-cache-dir .

ENV DATA_DIR=/data PORT=3000
VOLUME ["/data"]
EXPOSE 3000
CMD ["python", "server.py", "--log-dir", "/data/logs"]
