"""Fixtures: a real kcache-node on a free port, driven by redis-py."""
import os
import re
import subprocess
import tempfile

import pytest
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
NODE_BIN = os.environ.get("KCACHE_NODE_BIN", os.path.join(ROOT, "target", "release", "kcache-node"))


class Node:
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

    def client(self, **kw):
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


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
