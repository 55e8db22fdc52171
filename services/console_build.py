"""Builds the console (``frontend/dist``) in the background when it is missing.

``python server.py`` on a fresh clone has no ``frontend/dist`` (build output is not committed).
When npm is installed, the server starts answering at once (API ready, the console page says it
is being built) while ``npm ci && npm run build`` runs in a thread; the SPA handler reads
``index.html`` per request, so the console appears as soon as the build ends. Without npm the
page says how to build it.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading

log = logging.getLogger("onerelay.console")

MISSING, BUILDING, FAILED, NO_NPM, READY = "missing", "building", "failed", "no-npm", "ready"

_builds: dict[str, "ConsoleBuild"] = {}


class ConsoleBuild:
    def __init__(self, dist: str, source: str) -> None:
        self.dist = dist
        self.source = source  # the frontend/ folder with package.json
        self._state = MISSING
        self.error = ""
        self.thread: threading.Thread | None = None

    @property
    def state(self) -> str:
        if os.path.isfile(os.path.join(self.dist, "index.html")):
            return READY
        return self._state

    def start_if_needed(self) -> bool:
        """Starts the background build when the dist is missing; True when a build started."""
        if self.state == READY or not os.path.isfile(os.path.join(self.source, "package.json")):
            return False
        npm = shutil.which("npm")
        if npm is None:
            self._state = NO_NPM
            log.warning("the console is not built and npm is not installed: the API works; "
                        "install Node.js and run `cd frontend && npm ci && npm run build`")
            return False
        self._state = BUILDING
        _builds[os.path.abspath(self.dist)] = self
        self.thread = threading.Thread(target=self._run, args=(npm,), name="console-build", daemon=True)
        self.thread.start()
        return True

    def _run(self, npm: str) -> None:
        log.info("building the console in the background (npm ci && npm run build); the API is ready now")
        steps = [] if os.path.isdir(os.path.join(self.source, "node_modules")) else [[npm, "ci", "--no-audit", "--no-fund"]]
        steps.append([npm, "run", "build"])
        for cmd in steps:
            try:
                p = subprocess.run(cmd, cwd=self.source, capture_output=True, text=True, timeout=900)
            except (OSError, subprocess.TimeoutExpired) as e:
                self._fail(f"{' '.join(cmd[1:])}: {e}")
                return
            if p.returncode != 0:
                tail = (p.stdout + p.stderr).strip().splitlines()[-15:]
                self._fail(f"`npm {' '.join(cmd[1:])}` exited with {p.returncode}:\n" + "\n".join(tail))
                return
        if self.state == READY:
            log.info("the console is built: %s", self.dist)
        else:
            self._fail(f"the build finished but {self.dist}/index.html is missing")

    def _fail(self, error: str) -> None:
        self.error = error
        self._state = FAILED
        log.error("building the console failed: %s", error)


def state_of(dist: str) -> tuple[str, str]:
    """(state, error) of the console at ``dist`` for the placeholder page."""
    b = _builds.get(os.path.abspath(dist))
    if b is not None:
        return b.state, b.error
    if os.path.isfile(os.path.join(dist, "index.html")):
        return READY, ""
    return (MISSING if shutil.which("npm") else NO_NPM), ""
