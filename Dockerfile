# ClickNBack image: gunicorn serving clicknback.wsgi (the default command), and with another command the
# job loops or the migrations (docker-compose.yml). Static files are collected at build time.
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# collectstatic imports the settings, which demand secrets when DEBUG is off (R-214):
# random build-only values that never reach the running container (R-222: no constant secret).
RUN DEBUG=false \
    SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(48))')" \
    JWT_SIGNING_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(48))')" \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    python manage.py collectstatic --noinput --verbosity 0 \
 && rm -f /tmp/build.sqlite3

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin clicknback \
 && install -d -o clicknback -g clicknback /var/lib/clicknback/metrics
USER clicknback

ENV GUNICORN_BIND=0.0.0.0:8000
EXPOSE 8000

# For the web process; docker-compose.yml gives the job services their own check (jobs_status).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2)"]

# A single container migrates, then serves. docker-compose.yml runs the migrations once in their own
# service instead, so several web and job containers never migrate at the same time.
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn -c gunicorn.conf.py clicknback.wsgi:application"]
