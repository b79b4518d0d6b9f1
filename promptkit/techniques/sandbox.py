"""Run model-written Python in an OS sandbox: no files, no network, bounded time and memory.

Program-of-Thought and PAL execute code an LM wrote, so that code is treated as hostile. It runs in
a fresh ``python -I -S`` (isolated: no site-packages, no user paths, no environment variables) inside
one of two sandboxes, tried in this order:

* ``bwrap`` (bubblewrap, Debian package ``bubblewrap``): new pid/net/ipc/uts/mount (and user)
  namespaces, all capabilities dropped, uid ``nobody``, a read-only root that holds only ``/usr``
  and the Python installation, plus an empty 16 MB tmpfs ``/tmp`` as the working directory;
* ``unshare`` (util-linux) + ``chroot`` + ``setpriv``: the same namespaces and the same read-only
  tree built by hand, then every capability (including the bounding set) dropped before Python
  starts, so the program cannot ``chroot`` back out or remount anything.

Inside, before the program runs, :mod:`.sandbox_bootstrap` sets hard resource limits (``RLIMIT_AS``
memory, ``RLIMIT_CPU`` time, ``RLIMIT_NOFILE``, ``RLIMIT_NPROC``, ``RLIMIT_FSIZE``) and a seccomp
filter that refuses new processes and threads, ``exec`` and sockets (x86_64 and aarch64); the parent
enforces a wall-clock deadline and kills the whole process group when it passes.

When neither sandbox works on this machine, :func:`require_sandbox` raises
:class:`SandboxUnavailableError` — the code is never run unsandboxed.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from promptkit.errors import BackendUnavailableError, InputError

Backend = Literal["bwrap", "unshare"]
BACKENDS: tuple[Backend, ...] = ("bwrap", "unshare")
ResultKind = Literal["ok", "error", "timeout", "memory"]

_RESULT_MARKER = "\x1e__promptkit_sandbox_result__"
_TMP_BYTES = 16 * 1024 * 1024
_STARTUP_ALLOWANCE = 1.0  # seconds for the sandbox and Python to start, on top of the program's time


class SandboxUnavailableError(BackendUnavailableError):
    """No OS sandbox works on this machine, so model-written code is refused."""


@dataclass(frozen=True)
class SandboxLimits:
    """Limits for one program run. ``timeout`` is wall-clock and CPU seconds; ``memory_mb`` is address space."""

    timeout: float = 5.0
    memory_mb: int = 256
    max_output_bytes: int = 64_000
    max_open_files: int = 32
    max_file_bytes: int = 1_000_000

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.memory_mb < 32 or self.max_output_bytes <= 0:
            raise InputError(
                f"invalid sandbox limits {self!r}",
                hint="timeout must be > 0 s, memory_mb >= 32 (Python itself needs ~20 MB), max_output_bytes > 0",
            )


@dataclass(frozen=True)
class ExecutionResult:
    """What a program run produced. ``result`` is ``str()`` of the answer value (None when there is none)."""

    kind: ResultKind
    result: str | None = None
    stdout: str = ""
    error: str | None = None
    backend: str = ""

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    def describe(self) -> str:
        """A short report of the run, suitable to show the model when asking it to fix its program."""
        if self.ok:
            return f"result: {self.result}" + (f"\nstdout:\n{self.stdout}" if self.stdout else "")
        return f"{self.kind}: {self.error}" + (f"\nstdout before the failure:\n{self.stdout}" if self.stdout else "")


# Runs inside the sandbox before the model's code; a separate file so it can be linted and read.
_BOOTSTRAP = (Path(__file__).with_name("sandbox_bootstrap.py")).read_text(encoding="utf-8")


# Syscalls the program may not make, on top of the namespaces: new processes or threads (clone, fork,
# vfork, clone3), exec, and sockets. RLIMIT_NPROC alone does not stop fork for every uid mapping.
# AUDIT_ARCH value and syscall numbers per machine; elsewhere only the namespaces and limits apply.
_SECCOMP: dict[str, dict[str, object]] = {
    "x86_64": {"arch": 0xC000003E, "deny": [56, 57, 58, 435, 59, 322, 41, 53]},
    "aarch64": {"arch": 0xC00000B7, "deny": [220, 435, 221, 281, 198, 199]},
}


def _python_paths() -> tuple[str, list[str]]:
    """The real interpreter binary and the directories it needs (read-only) to start with ``-I -S``."""
    executable = os.path.realpath(sys.executable)
    needed = [os.path.realpath(sys.base_prefix)]
    if not executable.startswith(needed[0] + os.sep):
        needed.append(os.path.dirname(executable))
    return executable, [p for p in needed if p != "/usr" and not p.startswith("/usr/")]


def _top_level_links() -> list[tuple[str, str | None]]:
    """``/lib``, ``/lib64``, ``/bin``: a symlink target (merged /usr) or None (a real directory to bind)."""
    found: list[tuple[str, str | None]] = []
    for name in ("/lib", "/lib64", "/bin"):
        if os.path.islink(name):
            found.append((name, os.readlink(name)))
        elif os.path.isdir(name):
            found.append((name, None))
    return found


def _bwrap_command(executable: str, python_dirs: list[str]) -> list[str]:
    cmd = [
        "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--uid",
        "65534",
        "--gid",
        "65534",
        "--cap-drop",
        "ALL",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for name, target in _top_level_links():
        cmd += ["--symlink", target, name] if target is not None else ["--ro-bind", name, name]
    for directory in python_dirs:
        cmd += ["--ro-bind", directory, directory]
    cmd += ["--size", str(_TMP_BYTES), "--tmpfs", "/tmp", "--dev", "/dev", "--remount-ro", "/", "--chdir", "/tmp"]
    return cmd


# Built by a trusted shell inside fresh user+mount namespaces: a tmpfs root with read-only binds of /usr
# and the Python installation, then chroot and drop every capability before exec'ing Python.
_UNSHARE_SETUP = r"""
set -eu
root=$(mktemp -d)
mount -t tmpfs -o size=$PK_TMP_BYTES,mode=755 none "$root"
for dir in $PK_RO_DIRS; do
  mkdir -p "$root$dir"; mount --rbind "$dir" "$root$dir"; mount -o remount,bind,ro "$root$dir"
done
for link in $PK_LINKS; do ln -s "${link#*=}" "$root${link%%=*}"; done
mkdir -p "$root/tmp" "$root/dev"
for dev in null zero urandom; do touch "$root/dev/$dev"; mount --bind "/dev/$dev" "$root/dev/$dev"; done
mount -o remount,ro "$root"
mount -t tmpfs -o size=$PK_TMP_BYTES none "$root/tmp"
cd "$root/tmp"
exec chroot "$root" /usr/bin/setpriv --no-new-privs --inh-caps=-all --ambient-caps=-all --bounding-set=-all \
  /usr/bin/env -i PWD=/tmp "$@"
"""


def _unshare_command(executable: str, python_dirs: list[str]) -> tuple[list[str], dict[str, str]]:
    ro_dirs = ["/usr", *python_dirs]
    links: list[str] = []
    for name, target in _top_level_links():
        if target is None:
            ro_dirs.append(name)
        else:
            links.append(f"{name}={target}")
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "PK_TMP_BYTES": str(_TMP_BYTES),
        "PK_RO_DIRS": " ".join(ro_dirs),
        "PK_LINKS": " ".join(links),
    }
    cmd = [
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "--net",
        "--pid",
        "--fork",
        "--kill-child",
        "--ipc",
        "--uts",
        "sh",
        "-c",
        _UNSHARE_SETUP,
        "promptkit-sandbox",
    ]
    return cmd, env


def _command(backend: Backend, argv: list[str]) -> tuple[list[str], dict[str, str]]:
    executable, python_dirs = _python_paths()
    if backend == "bwrap":
        return [*_bwrap_command(executable, python_dirs), executable, *argv], {}
    cmd, env = _unshare_command(executable, python_dirs)
    return [*cmd, executable, *argv], env


def _tools_present(backend: Backend) -> bool:
    needed = ("bwrap",) if backend == "bwrap" else ("unshare", "chroot", "setpriv", "mount", "sh")
    return all(shutil.which(tool) for tool in needed)


@functools.cache
def backend_works(backend: Backend) -> bool:
    """Whether ``backend`` is installed and permitted here (probed once per process with a tiny program)."""
    if backend not in BACKENDS or not _tools_present(backend):
        return False
    try:
        result = _run(backend, "ans = 6 * 7", SandboxLimits(timeout=10.0), entry=None, result_var="ans")
    except (OSError, subprocess.SubprocessError):
        return False
    return result.ok and result.result == "42"


def detect_sandbox(preferred: str | None = None) -> Backend | None:
    """The first working backend (``preferred`` first when given), or None when there is none."""
    order = list(BACKENDS)
    if preferred is not None:
        if preferred not in BACKENDS:
            raise InputError(f"unknown sandbox backend {preferred!r}", hint=f"use one of {', '.join(BACKENDS)}")
        order = [b for b in BACKENDS if b == preferred]
    return next((b for b in order if backend_works(b)), None)


def require_sandbox(preferred: str | None = None) -> Backend:
    """A working backend, or :class:`SandboxUnavailableError` explaining what this machine lacks."""
    backend = detect_sandbox(preferred)
    if backend is None:
        tried = preferred or " and ".join(BACKENDS)
        raise SandboxUnavailableError(
            f"no sandbox for model-written Python works on this machine (tried {tried}); "
            "refusing to run the program unsandboxed",
            hint="install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap), or allow unprivileged user "
            "namespaces (sysctl kernel.unprivileged_userns_clone=1) so util-linux unshare can be used",
        )
    return backend


def _run(
    backend: Backend, code: str, limits: SandboxLimits, *, entry: str | None, result_var: str | None
) -> ExecutionResult:
    config = {
        "marker": _RESULT_MARKER,
        "entry": entry,
        "result_var": result_var,
        "cpu_seconds": max(1, math.ceil(limits.timeout)),
        "memory_bytes": limits.memory_mb * 1024 * 1024,
        "output_bytes": limits.max_output_bytes,
        "open_files": limits.max_open_files,
        "file_bytes": limits.max_file_bytes,
        "seccomp": _SECCOMP.get(platform.machine()),
    }
    cmd, env = _command(backend, ["-I", "-S", "-c", _BOOTSTRAP, json.dumps(config)])
    with tempfile.TemporaryDirectory(prefix="promptkit-sandbox-") as cwd:
        started = time.monotonic()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,  # its own process group: a timeout kills all of it
        )
        try:
            stdout, stderr = proc.communicate(code.encode("utf-8"), timeout=limits.timeout + _STARTUP_ALLOWANCE)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            reason = f"the program ran longer than {limits.timeout:g} s"
            return ExecutionResult("timeout", error=reason, backend=backend)
    elapsed = time.monotonic() - started
    return _read_report(proc.returncode, stdout, stderr, limits, backend, elapsed)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # it may have exited in the meantime
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def _read_report(
    returncode: int, stdout: bytes, stderr: bytes, limits: SandboxLimits, backend: str, elapsed: float
) -> ExecutionResult:
    text = stdout.decode("utf-8", "replace")
    marker_at = text.rfind(_RESULT_MARKER)
    if marker_at >= 0:
        try:
            report = json.loads(text[marker_at + len(_RESULT_MARKER) :])
        except json.JSONDecodeError:
            report = None
        if isinstance(report, dict) and report.get("kind") in ("ok", "error", "memory", "timeout"):
            return ExecutionResult(
                report["kind"],
                result=report.get("result"),
                stdout=str(report.get("stdout", "")),
                error=report.get("error"),
                backend=backend,
            )
    # No report: the process was killed. A kill by the CPU limit shows as SIGXCPU / SIGKILL under bwrap;
    # util-linux unshare turns it into exit status 1, so the elapsed time tells instead.
    killed = returncode in (-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGXCPU, 128 + signal.SIGKILL)
    if killed or elapsed >= limits.timeout:
        reason = f"the program used more than {limits.timeout:g} s of CPU"
        return ExecutionResult("timeout", error=reason, backend=backend)
    detail = stderr.decode("utf-8", "replace").strip()[-500:]
    if "MemoryError" in detail or "Cannot allocate memory" in detail:
        return ExecutionResult("memory", error="the program exceeded the memory limit", backend=backend)
    reason = f"the sandboxed process exited with status {returncode}: {detail}"
    return ExecutionResult("error", error=reason, backend=backend)


@dataclass
class PythonSandbox:
    """Runs programs with :func:`require_sandbox`'s backend. ``backend=None`` picks the first that works."""

    limits: SandboxLimits = SandboxLimits()
    backend: str | None = None

    def run(self, code: str, *, entry: str | None = None, result_var: str | None = "ans") -> ExecutionResult:
        """Run ``code``; the answer is ``entry()`` when ``entry`` names a function it defines, else ``result_var``."""
        backend = require_sandbox(self.backend)
        return _run(backend, code, self.limits, entry=entry, result_var=result_var)


def sandbox_report() -> dict[str, bool]:
    """Which backends work on this machine (for ``promptkit doctor`` and the docs)."""
    return {backend: backend_works(backend) for backend in BACKENDS}


__all__ = [
    "BACKENDS",
    "ExecutionResult",
    "PythonSandbox",
    "SandboxLimits",
    "SandboxUnavailableError",
    "detect_sandbox",
    "require_sandbox",
    "sandbox_report",
]


if __name__ == "__main__":  # pragma: no cover - manual check: python -m promptkit.techniques.sandbox
    print(json.dumps(sandbox_report()))
