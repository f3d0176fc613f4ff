"""Isolation and running only: a jailed worker that executes a learner's notebook and then answers calls.

:class:`Jail` starts ``autograder/worker.py`` (by file path, so nothing from the learner's folder is imported by
it) in a fresh scratch directory holding only the submitted files, and talks to it over two private pipes.

* ``unshare --net --mount --pid`` (when available, as root): loopback-only network; every mount read-only; the
  scratch directory is a size-limited tmpfs (cwd, HOME, TMPDIR inside it); ``/tmp`` and ``/dev/shm`` are fresh
  private tmpfs that vanish with the jail (other learners' scratch directories are not visible); the hidden paths
  (the instructor's ``solutions/``, ``.git``, answer keys, the key directory, the class folder and the results
  folder, the grader's home directory but what the jail's Python reads, anything in ``AUTOGRADER_HIDE``) are
  covered by empty read-only mounts, and ``autograder/checks`` by a stub; a PID namespace (no grader
  process visible; killing the jail kills everything the notebook started); then ``setpriv`` drops all
  capabilities so the notebook cannot remount, unhide or leave.
* always: RLIMIT_AS (memory), RLIMIT_FSIZE (largest file), a per-cell, a wall-clock and a per-call time limit,
  and a cap on all output the notebook produces (every MIME type).

Without ``unshare`` the worker runs as a plain child process with the same limits (``mode == "limits-only"``):
network, hidden files and other learners are then NOT protected.
"""
from __future__ import annotations

import json
import os
import re
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from textclass.config import REPO_ROOT
WORKER = Path(__file__).resolve().parent / "worker.py"


@dataclass(frozen=True)
class Limits:
    """Every sandbox limit, defined once (the command line's defaults read these)."""
    wall_s: float = 1800  # the notebook's run
    cell_s: float = 600
    call_s: float = 120  # one call of a learner's function by a check
    checks_s: float = 900  # all checks of one submission together
    memory_mb: int = 8192
    output_mb: float = 20  # total output the notebook may produce (all MIME types)
    file_mb: int = 512  # largest file it may write (RLIMIT_FSIZE)
    disk_mb: int = 1024  # scratch tmpfs size


MAX_REPLY = 32 * 2**20


# --------------------------------------------------------------------------- what the jail must not see
JAIL_CHECKS = Path(__file__).resolve().parent / "jail_checks"


def _checkouts() -> set[Path]:
    """This checkout and every checkout an editable install maps (the jail's Python can import from each)."""
    roots = {REPO_ROOT}
    for finder in Path(sys.prefix).glob("lib/python*/site-packages/__editable__*finder.py"):
        try:
            roots |= {Path(p).parent for p in re.findall(r"'([^']+)'", finder.read_text(encoding="utf-8")
                                                          .split("MAPPING", 1)[1].split("\n", 1)[0])
                      if Path(p).is_absolute()}
        except (OSError, IndexError):
            pass
    return roots


def checks_dirs() -> list[Path]:
    """The ``autograder/checks`` folders the jail could import: in the jail each is replaced by the stub
    (``autograder/jail_checks``)."""
    return [r / "autograder" / "checks" for r in sorted(_checkouts()) if (r / "autograder" / "checks").is_dir()]


def home_entries(data_dir=None) -> list[Path]:
    """The grader's home directory, entry by entry, except what the jail's Python and notebooks read: ``.cache``
    (the course cache, model caches), and every entry that holds the Python installation, an import path, this
    checkout, the data or the temporary folder. The rest (shell history, ``.config``, ``.gitconfig``, keys, a
    secret kept there) is hidden: the jail's own HOME is its scratch folder. ``data_dir``: the data folder."""
    import tempfile

    home = Path.home()
    try:
        entries = [e for e in home.iterdir() if not e.is_symlink()]
    except OSError:
        return []
    needed = [Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.executable, *sys.path, REPO_ROOT,
                                          tempfile.gettempdir(), os.environ.get("TEXTCLASS_CACHE", ""), data_dir)
              if p and str(p) != "."]
    return [e for e in entries if e.name != ".cache"
            and not any(n == e.resolve() or e.resolve() in n.parents for n in needed)]


def default_hidden() -> list[Path]:
    """The instructor's solutions and history for every checkout the jail can import from, the key directory,
    and ``AUTOGRADER_HIDE`` (``os.pathsep``-separated)."""
    roots = _checkouts()
    hidden = [r / name for r in roots for name in (
        "solutions", ".git", "grading", "release", "book/executed", "_build", ".nbgrader",
        "results/grades", "tests")]  # solutions in any form; the course's graded submissions (SST-2 test
    # predictions); the course's tests (their fixtures hold right answers)
    from autograder.scoring import key_path
    from autograder.stages import STAGES
    from textclass.config import resolve_data_dir

    try:
        data_dir = resolve_data_dir(None)
    except Exception:  # noqa: BLE001 -- no data directory: nothing there to hide
        data_dir = None
    hidden += [k for s in STAGES.values() for d in (data_dir, None) if (k := key_path(s, d)) is not None]
    for var in ("AUTOGRADER_KEYS_DIR", "AUTOGRADER_SECRET_FILE"):
        if os.environ.get(var):
            hidden.append(Path(os.environ[var]))
    hidden += [Path(p) for p in os.environ.get("AUTOGRADER_HIDE", "").split(os.pathsep) if p]
    return hidden + home_entries(data_dir)


# --------------------------------------------------------------------------- namespace jail
_NS_SCRIPT = r"""
set -e
S="$1"; DISK="$2"; shift 2
ip link set lo up
mount -t tmpfs -o "size=${DISK}m,mode=0755" tmpfs "$S/work"
cp -a "$S/in/." "$S/work/"
for m in $(awk '{print $2}' /proc/self/mounts); do
  case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|"$S/work") ;; *) mount -o remount,bind,ro "$m" 2>/dev/null || true ;; esac
done
W="$S/work"
if [ -d /mnt ]; then mount --bind "$S/work" /mnt; W=/mnt; mount -t tmpfs -o size=64m,mode=1777 tmpfs /tmp; fi
mount -t tmpfs -o size=64m,mode=1777 tmpfs /dev/shm 2>/dev/null || true
printf '%s\n' "$AG_SWAP" | while IFS= read -r p; do
  [ -n "$p" ] || continue
  dst="${p%%|*}"; src="${p#*|}"
  if [ -d "$dst" ] && [ ! -L "$dst" ] && [ -d "$src" ]; then mount --bind "$src" "$dst"; mount -o remount,bind,ro "$dst"; fi
done
unset AG_SWAP
printf '%s\n' "$AG_HIDE" | while IFS= read -r p; do
  [ -n "$p" ] || continue
  if [ -d "$p" ] && [ ! -L "$p" ]; then mount -t tmpfs -o ro,size=4k,mode=0555 tmpfs "$p"
  elif [ -e "$p" ] && [ ! -L "$p" ]; then mount --bind -o ro /dev/null "$p"; fi
done
unset AG_HIDE
cd "$W"
exec setpriv --inh-caps=-all --bounding-set=-all --no-new-privs "$@"
"""
_UNSHARE = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
            "--propagation", "private"]


@lru_cache(maxsize=1)
def isolation_available() -> bool:
    if os.environ.get("AUTOGRADER_ISOLATION") == "limits-only":
        return False
    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("unshare", "setpriv", "ip")):
        return False
    probe = [*_UNSHARE, "sh", "-c", "ip link set lo up && mount -t tmpfs tmpfs /mnt && "
             "exec setpriv --inh-caps=-all --bounding-set=-all --no-new-privs true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def require_isolation() -> None:
    """With ``AUTOGRADER_ISOLATION=jail``, a RuntimeError when the namespace jail cannot be used, instead of
    grading notebooks with limits only (what a grader without root gets otherwise)."""
    if os.environ.get("AUTOGRADER_ISOLATION") == "jail" and not isolation_available():
        raise RuntimeError("AUTOGRADER_ISOLATION=jail, but the namespace jail is not available here (it needs root "
                           "with unshare, setpriv and ip): grade on a machine that has them, or unset "
                           "AUTOGRADER_ISOLATION to grade with limits only")


def sandbox_info(isolated: bool, limits: Limits) -> dict:
    enforced = [f"wall clock {limits.wall_s:g} s", f"{limits.cell_s:g} s per cell", f"{limits.call_s:g} s per "
                f"checked call", f"memory {limits.memory_mb} MB (RLIMIT_AS)", f"files up to {limits.file_mb} MB",
                f"output up to {limits.output_mb:g} MB (all MIME types)",
                "checks run in the grader, outside the notebook's process; the learner's functions are called "
                "through plain data (JSON/npy)"]
    if isolated:
        enforced += ["network: loopback only (network namespace)", "filesystem read-only except the scratch "
                     f"directory (tmpfs, {limits.disk_mb} MB)", "private /tmp and /dev/shm, gone after the run",
                     "solutions/, answer keys, the key directory and other learners hidden",
                     "no capabilities (cannot remount or leave)", "every process killed at the end (PID namespace)"]
        missing = ["files that are neither hidden nor part of the submission are readable (read-only): public data, "
                   "the installed packages, any copy of the solutions outside the configured hidden paths",
                   "CPU time of the machine is shared: a notebook can be slow on purpose (bounded by the limits)"]
    else:
        missing = ["NO network isolation (unshare unavailable or not root)", "NO hiding of solutions/, answer keys "
                   "or other learners' files", "NO protection of files outside the scratch directory",
                   "processes the notebook detaches may survive"]
    return {"mode": "namespace jail" if isolated else "limits-only", "enforced": enforced, "not_enforced": missing}


def _set_limits(limits: Limits):
    def apply():
        mem = limits.memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        size = limits.file_mb * 2**20
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return apply


class Jail:
    """One jailed worker: ``start()``, then ``outcome()`` (the run), then ``call(payload)`` as often as needed,
    then ``close()`` (also as a context manager)."""

    def __init__(self, files: dict, limits: Limits, *, env: dict, parameters: dict, hide=()):
        self.files, self.limits, self.env, self.parameters = files, limits, env, parameters
        self.hide = [Path(p) for p in (*default_hidden(), *hide)]
        self.isolated = isolation_available()
        self.proc, self.tmp, self.last_error, self.calls_left_s = None, None, "", limits.checks_s

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self) -> None:
        from autograder.rpc import kernel_source

        require_isolation()

        self.tmp = tempfile.mkdtemp(prefix="autograder-")
        scratch = Path(self.tmp)
        (scratch / "in").mkdir()
        (scratch / "work").mkdir()
        for name, data in self.files.items():
            (scratch / "in" / name).write_bytes(data)
        work = scratch / ("work" if self.isolated else "in")
        spec = {"output_cap": int(self.limits.output_mb * 2**20), "cell_s": self.limits.cell_s,
                "call_s": self.limits.call_s, "parameters": self.parameters, "max_bytes": 50 * 2**20,
                "reply_bytes": MAX_REPLY, "kernel_source": kernel_source()}
        env = {**self.env, "AG_SPEC": json.dumps(spec), "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONPATH": str(REPO_ROOT), "HOME": str(work / ".home"), "TMPDIR": str(work / ".tmp")}
        if self.isolated:
            env["AG_HIDE"] = "\n".join(str(p) for p in self.hide if "\n" not in str(p))
            # the checks' code (with their reference answers) is replaced by a stub that only names them
            env["AG_SWAP"] = "\n".join(f"{p}|{JAIL_CHECKS}" for p in checks_dirs()
                                        if "\n" not in str(p) and "|" not in str(p))
        to_worker, self._w = os.pipe()
        self._r, from_worker = os.pipe()
        runner = [sys.executable, str(WORKER), str(to_worker), str(from_worker)]
        command = [*_UNSHARE, "sh", "-c", _NS_SCRIPT, "sh", str(scratch), str(self.limits.disk_mb), *runner] \
            if self.isolated else runner
        self.started = time.monotonic()
        self.proc = subprocess.Popen(command, cwd=work, env=env, pass_fds=(to_worker, from_worker),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL if not os.environ.get('AUTOGRADER_DEBUG') else None,
                                     start_new_session=True, preexec_fn=_set_limits(self.limits))
        os.close(to_worker)
        os.close(from_worker)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _read(self, n: int, deadline: float):
        out = bytearray()
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self._r], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self._r, min(n - len(out), 1 << 20))
                if not chunk:
                    raise EOFError
                out += chunk
        return bytes(out)

    def _frame(self, deadline: float, limit: int) -> bytes:
        (size,) = struct.unpack(">Q", self._read(8, deadline))
        if size > limit:
            raise EOFError("too large")
        return self._read(size, deadline)

    def outcome(self) -> dict:
        """The run: ``{"status": "ok", "notebook": ..., "submission": ...}`` or a status and an error."""
        try:
            cap = 2 * int(self.limits.output_mb * 2**20) + 2 * MAX_REPLY
            data = self._frame(self.started + self.limits.wall_s, cap)
        except TimeoutError:
            self.close()
            return {"status": "timeout", "error": f"the notebook ran past the {self.limits.wall_s:g} s wall-clock "
                    "limit"}
        except (EOFError, OSError, struct.error):
            self.close()
            return {"status": "crashed", "error": f"the notebook runner died (memory limit {self.limits.memory_mb} "
                    f"MB or output limit {self.limits.output_mb:g} MB exceeded?)"}
        try:
            result = json.loads(data)
            if not isinstance(result, dict) or result.get("status") not in ("ok", "timeout", "crashed",
                                                                             "output_limit"):
                raise ValueError
            return {k: v for k, v in result.items() if k in ("status", "error", "notebook", "submission")
                    and isinstance(v, str)}
        except ValueError:
            return {"status": "crashed", "error": "the notebook runner's report could not be read"}

    def call(self, payload: dict) -> bytes | None:
        """Send one request to the kernel; its raw reply (untrusted bytes), or None (``last_error`` says why)."""
        if self.proc is None or getattr(self, "_closed", False) or self.proc.poll() is not None:
            self.last_error = "the notebook's kernel is gone"
            return None
        if self.calls_left_s <= 0:
            self.last_error = f"the checks' time budget ({self.limits.checks_s:g} s) is used up"
            return None
        began = time.monotonic()
        try:
            data = json.dumps(payload).encode()
            os.write(self._w, struct.pack(">Q", len(data)))
            view = memoryview(data)
            while view:
                view = view[os.write(self._w, view):]
            return self._frame(began + min(self.limits.call_s + 10, self.calls_left_s), MAX_REPLY + 1024)
        except TimeoutError:
            self.last_error = f"the call took more than {self.limits.call_s:g} s"
            self.close()
        except (EOFError, OSError, struct.error):
            self.last_error = "the notebook's kernel stopped answering"
            self.close()
        finally:
            self.calls_left_s -= time.monotonic() - began
        return None

    def close(self) -> None:
        if self.proc is not None and not getattr(self, "_closed", False):
            self._closed = True
            try:
                os.close(self._w)  # the worker sees the end of requests and shuts its kernel down
                self._w = -1
                self.proc.wait(timeout=0.1 if self.isolated else 5)
            except (OSError, subprocess.TimeoutExpired):
                pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
        for fd in ("_r", "_w"):
            try:
                os.close(getattr(self, fd))
            except (AttributeError, OSError):
                pass
            setattr(self, fd, -1)
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
