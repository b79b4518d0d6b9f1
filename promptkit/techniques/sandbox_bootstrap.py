"""The code that runs *inside* the sandbox before the model's program (see :mod:`.sandbox`).

:mod:`.sandbox` passes this file's source to ``python -I -S -c``, its settings as JSON in ``argv[1]``
and the program on stdin (never interpolated into source). It sets hard resource limits the program
cannot raise again (it has no CAP_SYS_RESOURCE), installs a seccomp filter, runs the program with
stdout captured and bounded, and writes one JSON report after a marker. Standard library only: the
sandbox has nothing else.
"""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import sys
import traceback
from typing import Any


class CpuLimit(BaseException):
    """Raised by the SIGXCPU handler; a BaseException so ``except Exception`` in the program cannot eat it."""


def _on_cpu_limit(signum: int, frame: Any) -> None:
    raise CpuLimit()


def _hard(kind: int, value: int) -> None:
    resource.setrlimit(kind, (value, value))


def set_limits(cfg: dict[str, Any]) -> None:
    _hard(resource.RLIMIT_CORE, 0)
    _hard(resource.RLIMIT_FSIZE, cfg["file_bytes"])
    _hard(resource.RLIMIT_NOFILE, cfg["open_files"])
    _hard(resource.RLIMIT_NPROC, 0)
    # SIGXCPU at the soft limit ends the program with a report; the hard limit (1 s later) kills it
    # if it ignores the signal or is stuck in one long C call.
    signal.signal(signal.SIGXCPU, _on_cpu_limit)
    resource.setrlimit(resource.RLIMIT_CPU, (cfg["cpu_seconds"], cfg["cpu_seconds"] + 1))
    _hard(resource.RLIMIT_AS, cfg["memory_bytes"])


def deny_syscalls(arch: int, numbers: list[int]) -> None:
    """seccomp-bpf: the listed syscalls and any foreign ABI (i386, x32) fail with EPERM; the rest run."""
    import ctypes
    import struct

    deny = 0x00050000 | 1  # SECCOMP_RET_ERRNO | EPERM
    program = [
        (0x20, 0, 0, 4),  # load seccomp_data.arch
        (0x15, 1, 0, arch),  # our ABI? skip the deny
        (0x06, 0, 0, deny),
        (0x20, 0, 0, 0),  # load seccomp_data.nr
        (0x35, 0, 1, 0x40000000),  # x32 syscall numbers -> deny
        (0x06, 0, 0, deny),
    ]
    for index, number in enumerate(numbers):
        program.append((0x15, len(numbers) - index, 0, number))  # match -> jump to the final deny
    program += [(0x06, 0, 0, 0x7FFF0000), (0x06, 0, 0, deny)]  # SECCOMP_RET_ALLOW, then the deny target
    raw = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *ins) for ins in program))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(program), ctypes.addressof(raw))
    libc = ctypes.CDLL(None, use_errno=True)
    # PR_SET_NO_NEW_PRIVS (38), then PR_SET_SECCOMP (22) with SECCOMP_MODE_FILTER (2).
    if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "the seccomp filter was refused")


class BoundedOutput(io.StringIO):
    """The program's stdout, refusing to grow past ``limit`` characters."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def write(self, s: str) -> int:
        if self.tell() + len(s) > self.limit:
            raise RuntimeError(f"the program printed more than {self.limit} bytes")
        return super().write(s)


def run_program(source: str, cfg: dict[str, Any], out: BoundedOutput) -> dict[str, Any]:
    real_stdout = sys.stdout
    sys.stdout = out
    try:
        namespace: dict[str, Any] = {"__name__": "__main__"}
        exec(compile(source, "<program>", "exec"), namespace)  # the point of the sandbox
        entry, var = cfg["entry"], cfg["result_var"]
        if entry and callable(namespace.get(entry)):
            value = namespace[entry]()
        elif var and var in namespace:
            value = namespace[var]
        else:
            value = None
        return {"kind": "ok", "result": None if value is None else str(value)}
    except MemoryError:
        return {"kind": "memory", "error": "MemoryError: the program exceeded the memory limit"}
    except CpuLimit:
        return {"kind": "timeout", "error": f"the program used more than {cfg['cpu_seconds']} s of CPU"}
    except BaseException as exc:  # report anything the program raised, SystemExit included
        lines = traceback.format_exception(exc)
        return {"kind": "error", "error": "".join(lines[-4:]).strip()[-2000:]}
    finally:
        sys.stdout = real_stdout


def main() -> None:
    cfg: dict[str, Any] = json.loads(sys.argv[1])
    os.chdir("/tmp")  # the sandbox's empty, private tmpfs (chroot leaves the process in /)
    source = sys.stdin.read()
    sys.stdin.close()
    set_limits(cfg)
    if cfg["seccomp"]:
        deny_syscalls(cfg["seccomp"]["arch"], cfg["seccomp"]["deny"])
    out = BoundedOutput(cfg["output_bytes"])
    report = run_program(source, cfg, out)
    report["stdout"] = out.getvalue()
    sys.stdout.write(cfg["marker"] + json.dumps(report))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
