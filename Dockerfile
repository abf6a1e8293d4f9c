# One image for every Relance process; the command picks the process:
#   python -m relance_dossier            (default, HTTP_PORT 8000)
#   python -m relance_gateway            (8100)
#   python -m relance_notifier           (8200)
#   python -m relance_workflow           (8300)
#   python -m relance.relay              (8010)
#   python -m relance_agency_simulator   (8400, dev/demo only)
#   relance migrate | relance topics     (one-shot jobs)
# Settings come from the environment (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, TEMPORAL_ADDRESS, ...).
# The embedded servers (the "embedded" extra) are not installed: containers use real servers.

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv "$VIRTUAL_ENV" \
    && groupadd --system --gid 10001 relance \
    && useradd --system --uid 10001 --gid relance --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin relance \
    && mkdir -p /data \
    && chown relance:relance /data

WORKDIR /app

# The workspace's distributions, installed in dependency order (regular installs, no -e).
ARG PACKAGES="shared services/dossier services/workflow services/notifier services/transfer-gateway services/agency-simulator devstack"

# Third-party dependencies first, read from each distribution's pyproject.toml, so this
# layer is rebuilt only when they change.
COPY shared/pyproject.toml shared/pyproject.toml
COPY services/dossier/pyproject.toml services/dossier/pyproject.toml
COPY services/workflow/pyproject.toml services/workflow/pyproject.toml
COPY services/notifier/pyproject.toml services/notifier/pyproject.toml
COPY services/transfer-gateway/pyproject.toml services/transfer-gateway/pyproject.toml
COPY services/agency-simulator/pyproject.toml services/agency-simulator/pyproject.toml
COPY devstack/pyproject.toml devstack/pyproject.toml
RUN python -c "import sys, tomllib; print('\\n'.join(d for p in sys.argv[1:] for d in tomllib.load(open(p + '/pyproject.toml', 'rb'))['project']['dependencies'] if not d.startswith('relance')))" $PACKAGES \
       > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The sources: each folder is one distribution with a src/ layout.
COPY shared/ shared/
COPY services/ services/
COPY devstack/ devstack/
RUN pip install --no-deps $PACKAGES \
    && python -c "import relance, relance_dossier, relance_gateway, relance_notifier, relance_workflow, relance_agency_simulator, relance_devstack"

# Containers listen on every interface and log JSON; each service overrides HTTP_PORT.
ENV HTTP_HOST=0.0.0.0 \
    LOG_JSON=true \
    DATA_DIR=/data

USER 10001:10001

EXPOSE 8000 8010 8080 8100 8200 8300 8400

# Works for every process: each one serves GET /health on its own HTTP_PORT (no curl in slim).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('HTTP_PORT', '8000'), timeout=4)"]

CMD ["python", "-m", "relance_dossier"]
