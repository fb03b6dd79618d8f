"""The Procfile's commands as a test or a benchmark runs them on this machine.

    web_command(port)   # the `web:` line: the venv's gunicorn, bound to 127.0.0.1:<port>

Read from the Procfile itself, so what is started is what a deployment runs.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROCFILE = PROJECT_ROOT / "Procfile"
GUNICORN = str(Path(sys.executable).parent / "gunicorn")


def procfile_line(name: str) -> list[str]:
    """The words of the Procfile's `name:` command."""
    for line in PROCFILE.read_text().splitlines():
        if line.startswith(f"{name}:"):
            return shlex.split(line.removeprefix(f"{name}:"))
    raise RuntimeError(f"no {name}: line in {PROCFILE}")


def web_command(port: int, *, workers: int = 1) -> list[str]:
    """The Procfile's `web:` command (gunicorn, the worker class, dashboard.asgi) with the
    venv's gunicorn, bound to 127.0.0.1:`port` instead of 0.0.0.0:$PORT, `workers` worker
    processes, and no control socket in ~/.gunicorn (parallel runs do not collide).
    Everything else (worker class, --keep-alive, the access log on stdout, gunicorn's
    graceful timeout) is the Procfile's."""
    words = procfile_line("web")
    if words[0] != "gunicorn":
        raise RuntimeError(f"the Procfile's web: is not gunicorn: {words}")
    command = [GUNICORN]
    rest = iter(words[1:])
    for word in rest:
        if word in ("--bind", "-b"):
            next(rest)
            command += [word, f"127.0.0.1:{port}"]
        elif word.startswith("--bind="):
            command.append(f"--bind=127.0.0.1:{port}")
        else:
            command.append(word)
    return [*command, "-w", str(workers), "--no-control-socket"]
