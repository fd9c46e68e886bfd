"""The first run just works (issue 10): `make` finds a Python 3.12/3.13 that pyenv installed even when
no shim selects it, and says which one it picked. Runs the real Makefile and scripts/find-python.sh in a
sealed environment: a PATH of a few tools, an empty HOME, a fake pyenv root."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clicknback.testing import PROJECT_ROOT

REAL_PYTHON = os.path.realpath(sys.executable)  # the interpreter behind the venv: a 3.12/3.13


@pytest.fixture
def sealed(tmp_path):
    """(env, bin dir, pyenv root): PATH holds only bash, make and the few tools the script uses."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "make", "ls", "grep", "sort", "sed", "cut", "env"):
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"{tool} is not installed")
        (bin_dir / tool).symlink_to(found)
    home = tmp_path / "home"
    home.mkdir()
    pyenv_root = tmp_path / "pyenv"
    (pyenv_root / "versions").mkdir(parents=True)
    env = {"PATH": str(bin_dir), "HOME": str(home), "PYENV_ROOT": str(pyenv_root), "LANG": "C.UTF-8"}
    return env, bin_dir, pyenv_root


def install_fake_pyenv_version(pyenv_root: Path, version: str) -> Path:
    """A pyenv-style install: versions/<version>/bin/python3.X, here a link to the real interpreter."""
    bin_dir = pyenv_root / "versions" / version / "bin"
    bin_dir.mkdir(parents=True)
    executable = bin_dir / f"python{version.rsplit('.', 1)[0]}"
    executable.symlink_to(REAL_PYTHON)
    return executable


def install_unselected_shim(bin_dir: Path, name: str) -> None:
    """What a pyenv shim does when no PYENV_VERSION / .python-version selects its version."""
    shim = bin_dir / name
    shim.write_text(f"#!/bin/sh\necho 'pyenv: {name}: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)


def print_python(env) -> subprocess.CompletedProcess:
    return subprocess.run([env["PATH"] + "/make", "--no-print-directory", "print-python"], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=60)


def test_make_finds_the_pyenv_python_that_no_shim_selects(sealed):
    env, bin_dir, pyenv_root = sealed
    install_unselected_shim(bin_dir, "python3.13")
    install_unselected_shim(bin_dir, "python3.12")
    install_fake_pyenv_version(pyenv_root, "3.12.5")
    expected = install_fake_pyenv_version(pyenv_root, "3.13.9")
    install_fake_pyenv_version(pyenv_root, "3.11.2")  # too old, never chosen

    result = print_python(env)

    assert result.returncode == 0, result.stderr
    picked, version = result.stdout.splitlines()[:2]
    assert picked == str(expected)  # the newest 3.13 of pyenv, not a shim, not 3.12
    assert version.startswith("Python 3.1")


def test_make_prefers_a_python_on_path_that_runs(sealed):
    env, bin_dir, pyenv_root = sealed
    install_fake_pyenv_version(pyenv_root, "3.13.9")
    (bin_dir / "python3.13").symlink_to(REAL_PYTHON)

    result = print_python(env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == str(bin_dir / "python3.13")


def test_an_explicit_python_wins_over_discovery(sealed):
    env, _, pyenv_root = sealed
    install_fake_pyenv_version(pyenv_root, "3.13.9")

    result = print_python({**env, "PYTHON": REAL_PYTHON})

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == REAL_PYTHON


def test_find_python_ignores_pyenv_builds_that_are_not_plain_releases(sealed):
    env, _, pyenv_root = sealed
    for name in ("3.13t", "3.13-dev", "myenv"):
        (pyenv_root / "versions" / name / "bin").mkdir(parents=True)
        (pyenv_root / "versions" / name / "bin" / "python3.13").symlink_to(REAL_PYTHON)
    plain = install_fake_pyenv_version(pyenv_root, "3.12.5")

    result = subprocess.run([str(PROJECT_ROOT / "scripts" / "find-python.sh")], env=env,
                            capture_output=True, text=True, timeout=60)

    # pyenv is searched before the usual install paths: the plain release, never the free-threaded,
    # dev or virtualenv directories.
    assert result.returncode == 0
    assert "3.13t" not in result.stdout and "3.13-dev" not in result.stdout and "myenv" not in result.stdout
    assert result.stdout.strip() == str(plain)
