FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production

WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY incidents ./incidents
COPY messaging ./messaging
COPY refunds ./refunds
COPY sla ./sla
COPY mirakl ./mirakl
RUN pip install --no-cache-dir .
COPY . .
# The production settings refuse to load without a long secret: collectstatic gets a
# throwaway one that lives only in this build step (the running container needs its own).
RUN SECRET_KEY="collectstatic-only-$(python -c 'import secrets; print(secrets.token_urlsafe(48))')" \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    python manage.py collectstatic --no-input -v0

RUN useradd --create-home incidesk && mkdir -p /app/var && chown -R incidesk /app/var
USER incidesk
EXPOSE 8000
# Processes and threads: config/gunicorn.py (WEB_CONCURRENCY, WEB_THREADS).
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application", "--bind", "0.0.0.0:8000"]
