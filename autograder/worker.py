"""The in-jail side of grading (started by :mod:`autograder.sandbox`, never imported by the grader).

Runs ``submission.ipynb`` (in the current directory, the jail's scratch) cell by cell in a fresh kernel, sends the
run's outcome (status, executed notebook, the submission.json it wrote) to the grader, then keeps the kernel alive
and answers the grader's calls: each request names a function of the notebook (and maybe a harness); the kernel
calls it and writes the plain-data reply (see :mod:`autograder.rpc`), which is relayed as bytes.

Everything here runs beside the learner's code and may be tampered with: the grader treats what it sends as
untrusted data (size-limited, parsed as JSON, never imported or unpickled, never taken as a score).

Frames on the two pipes: an 8-byte big-endian length, then that many bytes.
"""
import json
import os
import struct
import sys


def send(fd, data: bytes) -> None:
    os.write(fd, struct.pack(">Q", len(data)))
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def receive(fd, limit: int = 64 * 2**20):
    head = _read_exactly(fd, 8)
    if head is None:
        return None
    (size,) = struct.unpack(">Q", head)
    if size > limit:
        return None
    return _read_exactly(fd, size)


def _read_exactly(fd, n: int):
    out = bytearray()
    while len(out) < n:
        chunk = os.read(fd, n - len(out))
        if not chunk:
            return None
        out += chunk
    return bytes(out)


def main(fd_in: int, fd_out: int) -> None:
    for fd in (fd_in, fd_out):
        os.set_inheritable(fd, False)  # the kernel must not reach the grader's pipes
    spec = json.loads(os.environ.pop("AG_SPEC"))
    work = os.getcwd()
    for name, sub in (("HOME", ".home"), ("TMPDIR", ".tmp"), ("MPLCONFIGDIR", ".tmp"), ("JUPYTER_RUNTIME_DIR", ".tmp"),
                      ("IPYTHONDIR", ".home/.ipython"), ("TEXTCLASS_RESULTS_DIR", ".results")):  # records: scratch
        os.makedirs(os.path.join(work, sub), exist_ok=True)
        os.environ[name] = os.path.join(work, sub)
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from nbclient.util import run_sync

    nb = nbformat.read("submission.ipynb", as_version=4)
    if spec.get("parameters"):
        from papermill.parameterize import parameterize_notebook

        for cell in nb.cells:
            cell.metadata.setdefault("tags", [])
        nb.metadata.setdefault("papermill", {})

        nb = parameterize_notebook(nb, spec["parameters"], kernel_name="python3", language="python")
    client = NotebookClient(nb, timeout=spec["cell_s"], kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": work}})
    printed, original_output = [0], NotebookClient.output

    def capped_output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})  # every MIME type counts, not only text
        printed[0] += len(str(content.get("text", ""))) + sum(
            len(v) if isinstance(v, (str, bytes)) else len(json.dumps(v, default=str))
            for v in (content.get("data") or {}).values())
        if printed[0] > spec["output_cap"]:
            raise OutputLimit(cell_index)
        return original_output(self, outs, msg, display_id, cell_index)

    NotebookClient.output = capped_output
    result = {"status": "ok"}
    with client.setup_kernel():
        client.reset_execution_trackers()
        try:
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
        except OutputLimit as exc:
            result = {"status": "output_limit", "error": f"the notebook printed more than "
                      f"{spec['output_cap'] / 2**20:g} MB of output (text, images and every other type; cell "
                      f"{exc.args[0]}); print less"}
        except CellTimeoutError:
            result = {"status": "timeout", "error": f"a cell ran past the {spec['cell_s']:g} s per-cell limit"}
        except (DeadKernelError, Exception) as exc:  # noqa: BLE001 -- reported, not raised
            text = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else ""
            result = {"status": "crashed", "error": f"the run failed: {type(exc).__name__}: {text}"}
        if result["status"] == "ok":
            result["notebook"] = nbformat.writes(nb)
        path = os.path.join(work, "submission.json")
        try:
            st = os.lstat(path)
            import stat

            if stat.S_ISREG(st.st_mode) and st.st_size <= spec["max_bytes"]:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    result["submission"] = fh.read()
        except OSError:
            pass
        send(fd_out, json.dumps(result).encode())
        NotebookClient.output = original_output
        if result["status"] != "ok":
            return
        quiet = {"output_hook": lambda msg: None, "store_history": False, "allow_stdin": False}
        setup = spec["kernel_source"] + "\n"
        try:
            run_sync(client.kc.execute_interactive)(setup, timeout=60, **quiet)
        except Exception:  # noqa: BLE001 -- then every call fails (as data)
            pass
        rpc = os.path.join(work, ".tmp", "rpc")
        os.makedirs(rpc, exist_ok=True)
        number = 0
        while True:
            request = receive(fd_in)
            if request is None:
                return
            number += 1
            req, rep = os.path.join(rpc, f"{number}.req.json"), os.path.join(rpc, f"{number}.rep.json")
            with open(req, "wb") as fh:
                fh.write(request)
            code = (f"_kernel_call(get_ipython().user_ns, {req!r}, {rep!r}, {int(spec['reply_bytes'])})")
            reply = None
            try:
                run_sync(client.kc.execute_interactive)(code, timeout=spec["call_s"], **quiet)
                with open(rep, "rb") as fh:
                    reply = fh.read(int(spec["reply_bytes"]) + 1)
            except TimeoutError:
                reply = json.dumps({"ok": False, "error": f"the call took more than {spec['call_s']:g} s"}).encode()
                try:
                    run_sync(client.km.interrupt_kernel)()
                except Exception:  # noqa: BLE001
                    pass
            except Exception as exc:  # noqa: BLE001
                reply = json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}).encode()
            send(fd_out, reply)


class OutputLimit(Exception):
    pass


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
