"""docker-compose.yml runs the whole platform (issue 10) with no default secrets (R-222). This machine has no
Docker engine: the file is parsed and its variables resolved the way Compose does (`${VAR:?err}`,
`${VAR:-default}`, `${VAR}`), then checked service by service."""

import re

import pytest
import yaml

from clicknback.testing import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
SECRETS = {"SECRET_KEY", "JWT_SIGNING_KEY", "POSTGRES_PASSWORD"}
APP_SERVICES = ("migrate", "web", "confirm-purchases", "process-payouts")
JOBS = {"confirm-purchases": "confirm_purchases", "process-payouts": "process_payouts"}
GOOD_ENV = {
    "SECRET_KEY": "s" * 48, "JWT_SIGNING_KEY": "j" * 48, "POSTGRES_PASSWORD": "0123456789abcdef",
}

_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:\?|:-|\?|-)(?P<arg>[^}]*))?\}")


class MissingVariable(Exception):
    pass


def interpolate(value, env: dict):
    """Compose's variable substitution, enough for this file; a missing `:?` variable raises."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match):
        name, op, arg = match["name"], match["op"], match["arg"]
        current = env.get(name)
        if op == ":?" and not current:
            raise MissingVariable(f"{name}: {arg}")
        if op == ":-" and not current:
            return arg
        return current or ""

    return _VARIABLE.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def compose(raw):
    return interpolate(raw, GOOD_ENV)


def command_of(service) -> str:
    command = service["command"]
    return " ".join(command) if isinstance(command, list) else command


def test_the_platform_is_db_migrations_web_and_both_job_loops(compose):
    assert set(compose["services"]) == {"db", *APP_SERVICES}
    images = {compose["services"][name]["image"] for name in APP_SERVICES}
    builds = {compose["services"][name]["build"] for name in APP_SERVICES}
    assert len(images) == 1 and builds == {"."}  # one image for all of them


def test_migrations_run_once_before_web_and_jobs(compose):
    services = compose["services"]
    migrate = services["migrate"]
    assert command_of(migrate) == "python manage.py migrate --noinput"
    assert migrate["restart"] == "no"  # a one-shot: it must not loop
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}
    for name in ("web", *JOBS):
        assert services[name]["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name
        assert "migrate" not in command_of(services[name]), name  # never migrate concurrently


def test_the_job_loops_run_for_good_and_report_their_health_through_jobs_status(compose):
    for name, job in JOBS.items():
        service = compose["services"][name]
        assert command_of(service) == f"python manage.py {job}"  # the loop, not --once
        assert service["restart"] == "unless-stopped"
        # Each service is healthy when its own job is: a stale payout loop does not mark confirmations unhealthy.
        assert service["healthcheck"]["test"] == ["CMD", "python", "manage.py", "jobs_status", "--job", job]
        assert "ports" not in service


def test_web_runs_gunicorn_with_its_config_file_and_checks_readiness(compose):
    web = compose["services"]["web"]
    assert command_of(web) == "gunicorn -c gunicorn.conf.py"
    assert web["restart"] == "unless-stopped"
    assert "/health/ready" in " ".join(web["healthcheck"]["test"])
    assert web["ports"] == ["8000:8000"]


def test_comments_tell_the_gunicorn_defaults_of_gunicorn_conf():
    text = COMPOSE.read_text()
    conf = (PROJECT_ROOT / "gunicorn.conf.py").read_text()
    assert "max(2, os.cpu_count() or 1)" in conf and "one per core (at least 2)" in text
    assert '_int_from_env("GUNICORN_THREADS", 4)' in conf and "4 threads each" in text
    assert "2 × cores + 1" not in text and "2 * cores + 1" not in text  # the old, untrue default


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_to_start_without_each_secret(raw, missing):
    env = {name: value for name, value in GOOD_ENV.items() if name != missing}
    with pytest.raises(MissingVariable, match=missing):
        interpolate(raw, env)
    with pytest.raises(MissingVariable, match=missing):
        interpolate(raw, {**env, missing: ""})  # set but empty counts as missing (":?")


def test_no_secret_has_a_default_anywhere_in_the_file(raw):
    text = COMPOSE.read_text()
    for match in _VARIABLE.finditer(text):
        if match["name"] in SECRETS:
            assert match["op"] == ":?", match.group(0)
    assert "change-me" not in text.lower() and "placeholder" not in text.lower()
    for name in APP_SERVICES:
        env = raw["services"][name]["environment"]
        for secret in ("SECRET_KEY", "JWT_SIGNING_KEY"):
            assert re.fullmatch(r"\$\{%s:\?[^}]+\}" % secret, env[secret]), env[secret]
        assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", raw["services"]["db"]["environment"]["POSTGRES_PASSWORD"])


def test_secrets_from_the_environment_reach_every_app_service(compose):
    for name in APP_SERVICES:
        env = compose["services"][name]["environment"]
        assert env["SECRET_KEY"] == GOOD_ENV["SECRET_KEY"] and env["JWT_SIGNING_KEY"] == GOOD_ENV["JWT_SIGNING_KEY"]
        assert env["DATABASE_URL"] == f"postgres://clicknback:{GOOD_ENV['POSTGRES_PASSWORD']}@db:5432/clicknback"
        assert env["DEBUG"] == "false"
    assert compose["services"]["db"]["environment"]["POSTGRES_PASSWORD"] == GOOD_ENV["POSTGRES_PASSWORD"]


def test_allowed_hosts_is_never_a_wildcard(raw, compose):
    assert "*" not in str(raw["x-clicknback"]["environment"]["ALLOWED_HOSTS"])
    for name in APP_SERVICES:
        hosts = compose["services"][name]["environment"]["ALLOWED_HOSTS"].split(",")
        assert hosts and "*" not in hosts and all(hosts), hosts
        assert "web" in hosts and "localhost" in hosts


def test_web_and_jobs_share_one_metrics_directory_the_image_can_write(compose):
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    for name in ("web", *JOBS):
        service = compose["services"][name]
        directory = service["environment"]["PROMETHEUS_MULTIPROC_DIR"]
        assert f"metrics:{directory}" in service["volumes"]
        assert f"install -d -o clicknback -g clicknback {directory}" in dockerfile
    assert "metrics" in compose["volumes"]


def test_dot_env_stays_out_of_git_and_out_of_the_image():
    assert ".env" in (PROJECT_ROOT / ".gitignore").read_text().split()
    assert ".env" in (PROJECT_ROOT / ".dockerignore").read_text().split()
    example = (PROJECT_ROOT / ".env.example").read_text()
    for secret in SECRETS:
        assert re.search(rf"^{secret}=$", example, re.MULTILINE), secret  # named, never filled in


def test_the_dockerfile_still_fits(compose):
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "FROM python:3.13" in dockerfile
    assert "COPY requirements.txt" in dockerfile and "pip install -r requirements.txt" in dockerfile
    assert "ENV GUNICORN_BIND=0.0.0.0:8000" in dockerfile  # what web's "8000:8000" publishes
    assert re.search(r"^USER clicknback$", dockerfile, re.MULTILINE)
    requirements = (PROJECT_ROOT / "requirements.txt").read_text()
    assert "gunicorn==" in requirements and "prometheus-client==" in requirements
