# msedocs serve / msedocs worker --jobs in one image (see compose.yaml and README, «HTTP API»).
#   docker build -t msedocs .
#   docker run -p 8000:8000 msedocs            # one machine: SQLite and the TEST PKI in /data
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY . /app
# dev.py installs the Debian packages msedocs needs (WeasyPrint's Pango and HarfBuzz, xmlsec1,
# poppler-utils, LibreOffice for the DOCX check, fonts …) and the pinned Python environment in
# /app/.venv, exactly as on a developer's machine.
RUN python3 dev.py setup \
    && rm -rf /var/lib/apt/lists/* /root/.cache \
    && useradd --system --uid 10001 --user-group --home-dir /data --create-home msedocs \
    && mkdir -p /data/pki \
    && chown -R msedocs:msedocs /data

USER msedocs
WORKDIR /data
ENV PATH=/app/.venv/bin:$PATH
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
CMD ["msedocs", "serve", "--host", "0.0.0.0", "--port", "8000", "--data", "/data"]
