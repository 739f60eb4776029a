"""Fixtures and helpers: a real kcache-node on a free port, driven by redis-py,
and Debian's redis-server beside it for the side-by-side tests."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
NODE_BIN = os.environ.get("KCACHE_NODE_BIN", os.path.join(ROOT, "target", "release", "kcache-node"))


class Process:
    """A server process on a loopback port with a scratch directory of its own."""

    def client(self, **kw):
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def stop(self):
        """Kills the process and removes its directory."""
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Node(Process):
    """A kcache-node process started with `--port 0`; its port is read from stdout."""

    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="kcache-py-")
        self.proc = subprocess.Popen(
            [NODE_BIN, "--port", "0", "--http-port", "0", "--dir", self.dir, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "KCACHE_LOG": "warn"},
            text=True,
        )
        self.port = None
        for line in self.proc.stdout:
            m = re.match(r"Ready to accept connections tcp port=(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            raise RuntimeError("kcache-node did not start")


@pytest.fixture
def node():
    n = Node()
    yield n
    n.stop()


@pytest.fixture
def r(node):
    c = node.client(decode_responses=True)
    yield c
    c.close()


def wait_until(pred, timeout=10.0):
    """Polls `pred` until it holds or the deadline passes."""
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached before the deadline"
        time.sleep(0.001)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer(Process):
    """Debian's redis-server on a free loopback port, no persistence unless the
    extra arguments ask for it. A missing redis-server fails the test: the
    side-by-side tests prove nothing without it."""

    def __init__(self, *args, dir=None):
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed: the side-by-side tests need it (apt-get install redis-server)")
        self.dir = dir or tempfile.mkdtemp(prefix="kcache-py-redis-")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                self.client().ping()
                break
            except redis.exceptions.BusyLoadingError:
                pass
            except redis.exceptions.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start")
            time.sleep(0.01)  # polling for readiness, bounded by the deadline


@pytest.fixture
def redis_port():
    """The port of a fresh redis-server."""
    s = RedisServer()
    yield s.port
    s.stop()
