"""Learner code is contained by the operating system, whatever it runs: every probe is checked ON THE HOST.

The probes print what they achieved; the tests then look at the host itself (marker files, modes and times
of real files, listeners, leftover processes) rather than trusting anything the sandbox reported.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import platform
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from app.domain.grading.sandbox import run_code_tests
from tests.support.sandbox import FAST, descendants, nothing_left_running

ROOT = Path(__file__).resolve().parents[3]
TESTS = "from submission import add\n\ndef test_adds():\n    assert add(2, 3) == 5\n"
ADD = "\ndef add(a, b):\n    return a + b\n"
STDLIB = os.path.dirname(os.__file__)


async def _probe(code: str) -> dict[str, str]:
    """Run ``code`` (which fills ``seen``) at import; return what it printed as JSON."""
    wrapped = "import json\nseen = {}\n" + code + "\nprint('PROBE' + json.dumps(seen, default=str))\n" + ADD
    result = await run_code_tests(wrapped, TESTS, FAST)
    line = next((x for x in result.stdout.splitlines() if x.startswith("PROBE")), None)
    assert line is not None, (result.status, result.detail, result.stdout[-2000:])
    assert result.passed == 1, (result.status, result.detail)  # the run itself still works
    seen: dict[str, str] = json.loads(line[len("PROBE") :])
    return seen


def _attempts(pairs: dict[str, str]) -> str:
    """Code that tries each statement and records the outcome under its name."""
    lines = []
    for name, statement in pairs.items():
        lines += [
            "try:",
            f"    {statement}",
            f"    seen[{name!r}] = 'DONE'",
            "except BaseException as exc:",
            f"    seen[{name!r}] = type(exc).__name__ + ': ' + str(exc)",
        ]
    return "\n".join(lines)


async def test_runs_as_an_unprivileged_user_in_fresh_namespaces() -> None:
    seen = await _probe(
        "import os, socket\n"
        "seen['ids'] = [os.getresuid(), os.getresgid(), os.getgroups()]\n"
        "seen['pid'] = os.getpid()\n"
        "seen['host'] = socket.gethostname()\n"
        "seen['root'] = sorted(os.listdir('/'))\n"
        "seen['proc'] = os.path.exists('/proc/1')\n"
        "seen['env'] = dict(os.environ)\n"
    )
    assert seen["ids"] == [[65534, 65534, 65534], [65534, 65534, 65534], []]
    assert seen["host"] == "lyceum-sandbox"
    assert int(seen["pid"]) < 10  # its own pid namespace: the host's processes do not exist in there
    assert seen["proc"] is False
    assert set(seen["env"]) <= {"PWD"}  # nothing of the worker's environment
    assert {"work", "tmp", "dev", "lyceum"} <= set(seen["root"])
    assert not {"etc", "home", "proc", "var", "srv", "sys", "boot"} & set(seen["root"])  # only what is mounted


async def test_the_published_escape_is_contained(tmp_path: Path) -> None:
    """The review's escape: recover the loader from the old audit hook's closure, load _posixsubprocess under a
    lying str subclass, fork_exec /bin/sh as root, read /proc/<worker>/environ and the data dir's secret_key.
    No hook remains to get around: the shell must still not run, and the host must not change."""
    marker = tmp_path / "escaped"
    seen = await _probe(
        "import os, sys, importlib.machinery\n"
        "class Liar(str):\n"
        "    def rpartition(self, sep):\n"
        "        return ('', '', 'harmless')\n"
        + _attempts(
            {
                "load": "import _posixsubprocess as p; seen['loaded'] = True",
                "fork_exec": "r, w = os.pipe(); p.fork_exec([b'/bin/sh'], [b'/bin/sh', b'-c', "
                f"b'touch {marker} ; cat /proc/1/environ'], True, (w,), None, None, -1, -1, -1, -1, -1, -1, r, w,"
                " True, False, -1, None, None, None, -1, None, False)",
                "system": f"assert os.system('touch {marker}') == 0",
                "spawn": f"os.posix_spawn('/bin/sh', ['sh', '-c', 'touch {marker}'], {{}})",
                "execv": f"os.execv('/bin/sh', ['sh', '-c', 'touch {marker}'])",
                "environ": "open('/proc/1/environ').read()",
            }
        )
    )
    assert not marker.exists()
    for name in ("fork_exec", "system", "spawn", "execv", "environ"):
        assert seen[name] != "DONE", (name, seen)


async def test_secrets_the_data_dir_and_the_repository_are_out_of_reach(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = f"never-visible-{uuid.uuid4().hex}"
    for name in ("LYCEUM_SECRET_KEY", "DATABASE_URL", "ANTHROPIC_API_KEY"):
        monkeypatch.setenv(name, secret)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "secret_key").write_text(secret)
    seen = await _probe(
        "import os, glob\n"
        + _attempts(
            {
                "secret_key": f"seen['data'] = open({str(data_dir / 'secret_key')!r}).read()",
                "repo": f"seen['repo'] = open({str(ROOT / 'pyproject.toml')!r}).read()",
                "repo listing": f"os.listdir({str(ROOT)!r})",
                "venv": f"open({str(ROOT / '.venv' / 'pyvenv.cfg')!r}).read()",
                "passwd": "open('/etc/passwd').read()",
                "environs": "seen['environs'] = [open(p, 'rb').read() for p in glob.glob('/proc/*/environ')]",
                "site-packages": "import litestar",
                "cffi": "import cffi",
            }
        )
        + "\nseen['env'] = repr(os.environ)\n"
    )
    assert secret not in json.dumps(seen)
    for name in ("secret_key", "repo", "repo listing", "venv", "passwd", "site-packages", "cffi"):
        assert seen[name] != "DONE", (name, seen[name])


async def test_changes_outside_the_work_dir_never_reach_the_host(tmp_path: Path) -> None:
    victim = Path(STDLIB) / "this.py"  # a host file that IS visible in the sandbox (read-only)
    before = victim.stat()
    host_tmp_marker = Path("/tmp") / f"lyceum-marker-{uuid.uuid4().hex}"  # noqa: S108 - probing /tmp is the point
    markers = {name: tmp_path / name for name in ("mkdir", "makedirs", "fifo", "node", "link", "file")}
    seen = await _probe(
        "import os, stat\n"
        + _attempts(
            {
                "mkdir": f"os.mkdir({str(markers['mkdir'])!r})",
                "makedirs": f"os.makedirs({str(markers['makedirs'] / 'a' / 'b')!r})",
                "mkfifo": f"os.mkfifo({str(markers['fifo'])!r})",
                "mknod": f"os.mknod({str(markers['node'])!r}, 0o600 | stat.S_IFCHR, os.makedev(1, 3))",
                "mknod here": "os.mknod('dev-null', 0o600 | stat.S_IFCHR, os.makedev(1, 3))",
                "symlink": f"os.symlink('/etc/passwd', {str(markers['link'])!r})",
                "write": f"open({str(markers['file'])!r}, 'w').write('x')",
                "stdlib write": f"open({str(Path(STDLIB) / 'zz_probe.py')!r}, 'w').write('x')",
                "utime": f"os.utime({str(victim)!r}, (0, 0))",
                "chmod": f"os.chmod({str(victim)!r}, 0o777)",
                "rename": f"os.rename({str(victim)!r}, {str(victim) + '.moved'!r})",
                "tmp": f"os.mkdir({str(host_tmp_marker)!r})",
            }
        )
    )
    for path in [*markers.values(), host_tmp_marker, Path(STDLIB) / "zz_probe.py", Path(str(victim) + ".moved")]:
        assert not path.exists(), (path, seen)
    after = victim.stat()
    assert (after.st_mode, after.st_mtime_ns, after.st_uid) == (before.st_mode, before.st_mtime_ns, before.st_uid)
    assert seen["mknod here"] != "DONE"  # no device nodes even in its own directory
    assert seen["tmp"] == "DONE"  # its own /tmp is private: the write succeeded in there, not on the host


async def test_processes_cannot_be_created_and_nothing_is_left_behind() -> None:
    before = descendants()
    seen = await _probe(
        "import os, subprocess, multiprocessing, threading\n"
        + _attempts(
            {
                "fork": "os.fork()",
                "fork bomb": "[os.fork() for _ in range(1000)]",
                "subprocess": "subprocess.run(['/bin/sh', '-c', 'true'])",
                "multiprocessing": "multiprocessing.Process(target=print).start()",
                "forkpty": "os.forkpty()",
                "thread": "t = threading.Thread(target=lambda: None); t.start(); t.join()",
            }
        )
    )
    assert seen["thread"] == "DONE"  # threads are allowed
    for name in ("fork", "fork bomb", "subprocess", "multiprocessing", "forkpty"):
        assert seen[name] != "DONE", (name, seen[name])
    await nothing_left_running(before)


async def test_sockets_are_refused_including_abstract_unix_sockets() -> None:
    abstract = f"\0lyceum-test-{uuid.uuid4().hex}"
    unix_listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tcp_listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with unix_listener, tcp_listener:
        unix_listener.bind(abstract)
        unix_listener.listen()
        unix_listener.setblocking(False)
        tcp_listener.bind(("127.0.0.1", 0))
        tcp_listener.listen()
        tcp_listener.setblocking(False)
        port = tcp_listener.getsockname()[1]
        seen = await _probe(
            "import socket\n"
            + _attempts(
                {
                    "abstract unix": f"s = socket.socket(socket.AF_UNIX); s.connect({abstract!r})",
                    "tcp": f"socket.create_connection(('127.0.0.1', {port}), timeout=2)",
                    "udp": "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53))",
                    "raw": "socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)",
                    "pair": "socket.socketpair()",
                    "dns": "socket.getaddrinfo('example.com', 80)",
                }
            )
        )
        for listener in (unix_listener, tcp_listener):
            with pytest.raises(BlockingIOError):
                listener.accept()  # nobody connected
    for name in ("abstract unix", "tcp", "udp", "raw", "pair", "dns"):
        assert seen[name] != "DONE", (name, seen[name])


@pytest.mark.skipif(platform.machine() != "x86_64", reason="syscall numbers below are x86_64's")
async def test_native_code_meets_the_seccomp_filter() -> None:
    """ctypes (now loadable: nothing in-process guards it) reaches the kernel directly; the filter answers."""
    numbers = {
        "socket": (41, "2, 1, 0"),
        "fork": (57, ""),
        "ptrace": (101, "16, 1, 0, 0"),
        "mount": (165, "b'none', b'/work', b'tmpfs', 0, 0"),
        "unshare": (272, "0x10000000"),
        "keyctl": (250, "0, 0"),
        "bpf": (321, "0, 0, 0"),
        "perf_event_open": (298, "0, 0, -1, -1, 0"),
        "io_uring_setup": (425, "1, 0"),
        "init_module": (175, "0, 0, b''"),
    }
    calls = "\n".join(
        f"seen[{name!r}] = [libc.syscall({number}{', ' + args if args else ''}), ctypes.get_errno()]"
        for name, (number, args) in numbers.items()
    )
    seen = await _probe("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n" + calls)
    for name in numbers:
        result, error = seen[name]
        assert result == -1, (name, seen[name])
        assert error == 1, (name, seen[name])  # EPERM from the filter


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to build the native payload")
async def test_a_shared_object_the_learner_writes_and_loads_is_contained(tmp_path: Path) -> None:
    """Every native-module loader (ctypes, the import system's dlopen) ends in the same place: native code
    running under the seccomp filter, in namespaces, as an unprivileged user."""
    marker, secret = tmp_path / "native-marker", tmp_path / "secret"
    secret.write_text("host secret")
    source = tmp_path / "payload.c"
    source.write_text(
        "#include <stdio.h>\n#include <fcntl.h>\n#include <sys/stat.h>\n#include <sys/socket.h>\n#include <unistd.h>\n"
        "__attribute__((constructor)) static void run(void) {\n"
        f'  int made = mkdir("{marker}", 0777);\n'
        "  int s = socket(AF_INET, SOCK_STREAM, 0);\n"
        "  pid_t p = fork(); if (p == 0) _exit(0);\n"
        f'  int fd = open("{secret}", O_RDONLY);\n'
        '  char *argv[] = {"/bin/sh", "-c", "true", NULL};\n'
        '  int e = execve("/bin/sh", argv, NULL);\n'
        '  printf("NATIVE mkdir=%d socket=%d fork=%d open=%d execve=%d\\n", made, s, p, fd, e);\n'
        "  fflush(stdout);\n}\n"
    )
    payload = tmp_path / "payload.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(payload), str(source)], check=True)  # noqa: ASYNC221
    blob = base64.b64encode(payload.read_bytes()).decode()
    for loader in (
        "import ctypes\nctypes.CDLL('/work/payload.so')",
        "import _imp, importlib.machinery as m\n"
        "try:\n    _imp.create_dynamic(m.ModuleSpec('payload', None, origin='/work/payload.so'))\n"
        "except ImportError:\n    pass  # no module init function: the constructor has run anyway",
    ):
        code = f"import base64\nopen('/work/payload.so', 'wb').write(base64.b64decode({blob!r}))\n{loader}\n"
        result = await run_code_tests(code + ADD, TESTS, FAST)
        assert "NATIVE mkdir=-1 socket=-1 fork=-1 open=-1 execve=-1" in result.stdout, result
        assert not marker.exists()


async def test_a_run_cannot_see_another_runs_files() -> None:
    """Each run has its own in-memory /work and /tmp: nothing of one is visible to another, nor on the host."""
    token = uuid.uuid4().hex
    writer = (
        f"import os, time\nopen('/work/{token}', 'w').write('a')\nopen('/tmp/{token}', 'w').write('a')\n"
        "time.sleep(3)\n" + ADD
    )
    reader = (
        "import json, os, time\ntime.sleep(1)\n"
        "print('SEEN' + json.dumps([os.listdir('/work'), os.listdir('/tmp'), os.listdir('/')]))\n" + ADD
    )
    first, second = await asyncio.gather(run_code_tests(writer, TESTS, FAST), run_code_tests(reader, TESTS, FAST))
    assert first.passed == second.passed == 1
    assert "SEEN" in second.stdout
    assert token not in second.stdout
    assert not Path(f"/tmp/{token}").exists()  # noqa: ASYNC240, S108
