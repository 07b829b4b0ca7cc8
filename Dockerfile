FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    FRONTDESK_HOME=/data HOST=0.0.0.0 PORT=8000

RUN useradd --create-home --uid 10001 frontdesk \
    && mkdir /data && chown frontdesk /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY frontdesk frontdesk
COPY voice voice
COPY pipelines pipelines
COPY tools tools
COPY api api
COPY db db
COPY loadtest loadtest
RUN pip install '.[local]'

USER frontdesk
VOLUME /data
EXPOSE 8000
CMD ["frontdesk", "serve"]
