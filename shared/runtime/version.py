"""What is running: the package version, the git commit when known, and since when."""

from __future__ import annotations

import time
from importlib import metadata
from pathlib import Path
from typing import Any

from aiohttp import web

from shared.contracts.sales import ms_to_datetime

# The checkout these modules run from, when they run from one (not in the image).
_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def package_version() -> str:
    try:
        return metadata.version("flashsale")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def git_commit(root: Path = _SOURCE_ROOT) -> str | None:
    """The commit checked out at ``root``, read from .git without running git; None if unknown."""
    git = root / ".git"
    try:
        if git.is_file():  # a worktree: "gitdir: <path>"
            git = Path(git.read_text().partition("gitdir:")[2].strip())
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head or None  # a detached HEAD is the commit itself
        ref = head.partition("ref:")[2].strip()
        folders = [git]
        if (git / "commondir").is_file():  # a worktree keeps its branches in the main repo
            folders.append((git / (git / "commondir").read_text().strip()).resolve())
        for folder in folders:
            if (folder / ref).is_file():
                return (folder / ref).read_text().strip()
            if (folder / "packed-refs").is_file():
                for line in (folder / "packed-refs").read_text().splitlines():
                    sha, _, name = line.partition(" ")
                    if name == ref:
                        return sha
    except OSError:
        return None
    return None


def build_info(service: str, commit: str | None) -> dict[str, Any]:
    """The body of GET /version, fixed at start-up."""
    return {
        "service": service,
        "version": package_version(),
        "commit": commit if commit is not None else git_commit(),
        "started_at": ms_to_datetime(time.time_ns() // 1_000_000).isoformat(),
    }


def version_routes(info: dict[str, Any]) -> list[web.RouteDef]:
    async def version(_: web.Request) -> web.Response:
        return web.json_response(info)

    return [web.get("/version", version)]
