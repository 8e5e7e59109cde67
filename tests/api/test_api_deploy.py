"""The documented multi-machine setup: the Dockerfile and compose.yaml (PostgreSQL, the service,
two job workers). Images are not built here; the compose file is checked by Compose itself when
it is installed."""

from __future__ import annotations

import shutil
import subprocess

import yaml

from .conftest import ROOT


def test_dockerfile_runs_as_a_user_on_python_311_slim_with_devs_packages():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    assert "python3 dev.py setup" in text  # the Debian packages and the pinned environment, as dev.py installs them
    user = [line for line in lines if line.startswith("USER ")]
    assert user and user[-1] not in ("USER root", "USER 0")
    assert "msedocs serve" in text.replace('", "', " ").replace('["', "")


def test_compose_has_postgresql_the_service_and_two_workers():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:")
    assert services["api"]["command"][:2] == ["msedocs", "serve"] and "--no-jobs" in services["api"]["command"]
    workers = [s for s in services.values() if s.get("command", [])[:3] == ["msedocs", "worker", "--jobs"]]
    assert len(workers) == 2
    for name in ("api", "worker-1", "worker-2"):
        assert services[name]["environment"]["MSEDOCS_DB"].startswith("postgresql://")
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"


def test_compose_config_is_valid_for_compose():
    if shutil.which("docker-compose"):
        command = ["docker-compose", "-f", str(ROOT / "compose.yaml"), "config", "-q"]
    elif shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:  # noqa: E501
        command = ["docker", "compose", "-f", str(ROOT / "compose.yaml"), "config", "-q"]
    else:
        import pytest

        pytest.skip("neither docker compose nor docker-compose is installed: compose.yaml checked above only")
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
