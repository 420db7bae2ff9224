FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/mcd
COPY pyproject.toml README.md requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY voucher_service voucher_service
COPY experts experts
COPY notifications notifications
RUN pip install --no-cache-dir --no-deps . && useradd --system --home /srv/mcd mcd && chown -R mcd /srv/mcd
USER mcd
EXPOSE 8000
CMD ["voucher-service", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
