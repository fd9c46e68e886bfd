"""A PostgreSQL cluster of a test's own, that it may stop and start (never the suite's database).

Made like scripts/with-throwaway-postgres.sh makes its cluster: initdb with trust auth in a temp dir,
run as the `postgres` OS user when the tests run as root (initdb and pg_ctl refuse root)."""

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.e2e_server import free_port

SUPERUSER = "clicknback"
DBNAME = "clicknback"


def _bindir() -> str | None:
    candidates = [os.environ.get("PG_BINDIR", "")]
    try:
        candidates.append(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip())
    except OSError:
        pass
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for directory in candidates:
        if directory and os.access(os.path.join(directory, "pg_ctl"), os.X_OK):
            return directory
    return None


class ThrowawayCluster:
    def __init__(self):
        self.bindir = _bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found; set PG_BINDIR")
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="clicknback-outage-", dir="/tmp"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        if self.as_root:
            shutil.chown(self.root, "postgres")
            os.chmod(self.root, 0o700)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", SUPERUSER, "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, DBNAME)

    @property
    def url(self) -> str:
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{DBNAME}"

    def _run(self, program: str, *args: str) -> None:
        command = [os.path.join(self.bindir, program), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, cwd=self.root, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", f"-p {self.port}", "-t", "60",
                  "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-t", "60", "-w", "stop")

    def destroy(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-t", "30", "-w", "stop")
        finally:
            time.sleep(0.2)
            shutil.rmtree(self.root, ignore_errors=True)
