"""A real cluster on loopback for tests: PostgreSQL (Debian's binaries, a throw-away cluster under a temporary
directory), two ``samhandling serve`` nodes sharing it, and HAProxy running ``deploy/haproxy.cfg``.

Everything is started as the operator would: separate processes, configuration through environment variables,
readiness through ``/internal/isready``. PostgreSQL refuses to run as root, so as root the database runs as the
``postgres`` system user (``runuser``), in a directory that user owns.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from recordings.key_provider import create_kek_file
from tests.live_server import free_port

REPO = Path(__file__).resolve().parents[2]
HAPROXY_CFG = REPO / "deploy" / "haproxy.cfg"


def find_binary(name: str) -> str | None:
    """A PostgreSQL or HAProxy binary on PATH or where Debian puts it (the newest PostgreSQL major)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return candidates[-1]
    return next((p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None)


def missing_binaries(needed: tuple[str, ...] = ("initdb", "pg_ctl", "haproxy")) -> list[str]:
    names = [*needed, *(["runuser"] if os.geteuid() == 0 else [])]
    return [name for name in names if find_binary(name) is None]


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return None


def wait_until(check: object, timeout: float, what: str) -> float:
    """Poll ``check()`` every 0.1 s until it is true; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.1)
    raise TimeoutError(f"{what} not within {timeout} s")


class Postgres:
    """A throw-away PostgreSQL cluster on 127.0.0.1 with trust authentication for one user."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="samhandling-pg-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        command = [*(["runuser", "-u", "postgres", "--"] if self.as_root else []), *args]
        return subprocess.run(command, check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://samhandling@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        self._run(str(find_binary("initdb")), "-D", str(self.data), "-U", "samhandling", "--auth=trust",
                  "--encoding=UTF8", "--no-locale")  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off -c max_connections=200"
        self._run(str(find_binary("pg_ctl")), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"),
                  "-w", "-t", "60", "start")  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._run(str(find_binary("pg_ctl")), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Node:
    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "web.cli", "serve", "--workers", "1"],
                env=self.env, stdout=subprocess.DEVNULL, stderr=log, cwd=REPO,
            )  # fmt: skip

    def wait_ready(self, timeout: float = 180) -> None:
        wait_until(lambda: http_status(self.url + "/internal/isready") == 200, timeout, f"node {self.name} ready")

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait_exit(self, timeout: float = 60) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def participants(self) -> int:
        """Connected participants on this node, from its Prometheus metrics."""
        with urllib.request.urlopen(self.url + "/internal/metrics", timeout=5) as response:
            text = response.read().decode()
        match = re.search(r"^samhandling_participants (\S+)$", text, re.M)
        return int(float(match.group(1))) if match else 0


@dataclass
class Cluster:
    pg: Postgres
    nodes: dict[str, Node]
    lb_port: int
    data_dir: Path
    haproxy: subprocess.Popen[bytes] | None = None
    stats_port: int = 0
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.lb_port}"

    @property
    def public_key(self) -> Path:
        return self.data_dir / "keys" / "ledger-ed25519.pub.pem"

    def other(self, name: str) -> Node:
        (node,) = [n for n in self.nodes.values() if n.name != name]
        return node

    def holder(self) -> Node | None:
        """The node with connected participants (for a test that has one meeting live at a time)."""
        busy = [n for n in self.nodes.values() if n.participants() > 0]
        return busy[0] if len(busy) == 1 else None

    def server_states(self) -> dict[str, str]:
        """HAProxy's view of each node in the rooms backend ("UP", "DOWN", "UP 1/2"...), from its statistics CSV."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=5) as response:
            rows = list(csv.DictReader(io.StringIO(response.read().decode().lstrip("# "))))
        rooms = [row for row in rows if row["pxname"] == "rooms" and row["svname"] in self.nodes]
        return {row["svname"]: row["status"] for row in rooms}

    def wait_for_servers(self, wanted: dict[str, str], timeout: float = 30) -> None:
        """Wait until HAProxy's health checks have settled each named node in the wanted state (``{"a": "UP"}``)."""
        wait_until(lambda: all(self.server_states().get(n) == s for n, s in wanted.items()), timeout,
                   f"HAProxy seeing {wanted}")  # fmt: skip

    def stop(self) -> None:
        if self.haproxy is not None and self.haproxy.poll() is None:
            self.haproxy.terminate()
            self.haproxy.wait(10)
        for node in self.nodes.values():
            node.stop()
        self.pg.destroy()


def start_cluster(root: Path) -> Cluster:
    """PostgreSQL, the schema and demo data, two nodes and HAProxy; returns when HAProxy serves both nodes."""
    pg = Postgres()
    pg.init()
    pg.start()
    data_dir, kek = root / "shared-data", root / "kek" / "recordings.kek"
    kek.parent.mkdir(mode=0o700, parents=True)
    create_kek_file(kek)
    lb_port = free_port()
    base = dict(os.environ) | {
        "PYTHONPATH": str(REPO),
        "SAMHANDLING_DATA_DIR": str(data_dir),
        "SAMHANDLING_DATABASE_URL": pg.url,
        "SAMHANDLING_ICE_LOOPBACK": "true",
        "SAMHANDLING_DEV_MODE": "true",
        "SAMHANDLING_RECORDINGS_KEK_FILE": str(kek),
        "SAMHANDLING_PUBLIC_URL": f"http://127.0.0.1:{lb_port}",
        "SAMHANDLING_SESSION_SECRET": "cluster-test-secret-" + "x" * 24,
        "SAMHANDLING_LOG_LEVEL": "WARNING",
        "SAMHANDLING_TRUSTED_PROXIES": "127.0.0.1",
    }
    subprocess.run([sys.executable, "-m", "web.cli", "seed-demo"], env=base, check=True, capture_output=True,
                   cwd=REPO, timeout=180)  # fmt: skip
    # The signing key is created by the first process that needs it; create it before two nodes race for it.
    from privacy.records.keys import load_or_create_signing_key

    load_or_create_signing_key(data_dir / "keys")
    nodes: dict[str, Node] = {}
    for name in ("a", "b"):
        port = free_port()
        env = base | {"SAMHANDLING_NODE_NAME": name, "SAMHANDLING_HOST": "127.0.0.1", "SAMHANDLING_PORT": str(port)}
        nodes[name] = Node(name, port, env, root / f"node-{name}.log")
    cluster = Cluster(pg, nodes, lb_port, data_dir)
    try:
        for node in nodes.values():
            node.start()
        for node in nodes.values():
            node.wait_ready()
        lb_env = base | {
            "SAMHANDLING_LB_BIND": f"127.0.0.1:{lb_port}",
            "SAMHANDLING_NODE_A": f"127.0.0.1:{nodes['a'].port}",
            "SAMHANDLING_NODE_B": f"127.0.0.1:{nodes['b'].port}",
        }
        # The deployment's file as it is, plus a statistics listener only the tests read (servers' states).
        cluster.stats_port = free_port()
        stats_cfg = root / "haproxy-stats.cfg"
        stats_cfg.write_text(f"listen stats\n    bind 127.0.0.1:{cluster.stats_port}\n    stats enable\n"
                             "    stats uri /stats\n")  # fmt: skip
        cluster.haproxy = subprocess.Popen(
            [str(find_binary("haproxy")), "-db", "-f", str(HAPROXY_CFG), "-f", str(stats_cfg)],
            env=lb_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: http_status(cluster.url + "/internal/isready") == 200, 30, "HAProxy serving")
        cluster.wait_for_servers({"a": "UP", "b": "UP"})
    except BaseException:
        cluster.stop()
        raise
    return cluster
