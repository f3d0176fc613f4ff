"""The grader's real proxy (``autograder.rpc.Proxy``) on a learner's functions in this process: the kernel side
(``rpc.kernel_source()``) exec'd as the worker defines it in the learner's kernel, without the jail. Used by the
tests that grade through the proxy (tests/test_checks_through_rpc.py, tests/test_reproduce_exercises.py)."""
from __future__ import annotations

import json

from autograder import rpc


class InProcessChannel:
    """The worker's channel without the jail: each call writes the request, runs the shipped ``_kernel_call`` on
    the namespace that holds the learner's functions, and hands back the reply's bytes."""

    last_error = None

    def __init__(self, namespace: dict, folder):
        self.namespace, self.folder, self.calls = dict(namespace), folder, 0
        shipped = {}
        exec(compile(rpc.kernel_source(), "<kernel>", "exec"), shipped)
        self.kernel_call = shipped["_kernel_call"]

    def call(self, payload: dict) -> bytes:
        self.calls += 1
        request, reply = self.folder / f"{self.calls}.json", self.folder / f"{self.calls}.reply"
        request.write_text(json.dumps(payload))
        self.kernel_call(self.namespace, str(request), str(reply), rpc.MAX_REPLY_BYTES)
        return reply.read_bytes()


def proxies(tmp_path, **fns):
    channel = InProcessChannel(fns, tmp_path)
    return [rpc.Proxy(channel, name) for name in fns]
