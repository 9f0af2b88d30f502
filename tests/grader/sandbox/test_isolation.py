"""What student code can reach from inside the child: not the protected
directory, not the grader's modules, not other processes, not the network,
not the parent's environment; and what it sees is fresh and deterministic."""
from __future__ import annotations

import importlib.util
import os
from dataclasses import replace
import re
import resource
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import Limits, Sandbox

from .conftest import FAST, cells

ATTACKS = r'''
import glob, io, os, pathlib, resource, signal, socket, sys
import numpy as np

def read(path):
    with open(path) as f:
        return f.read()

def read_bytes_path(path):
    with open(os.fsencode(path), "rb") as f:
        return f.read()

def read_pathlib(path):
    return pathlib.Path(path).read_text()

def read_relative(path):
    return read(os.path.relpath(path, os.getcwd()))

def read_numpy(path):
    return np.fromfile(path, dtype=np.uint8).tolist()

def read_open_code(path):
    with io.open_code(path) as f:
        return f.read()

def read_os_open(path):
    return os.read(os.open(path, os.O_RDONLY), 100)

def read_via_dir_fd(path):
    above = os.path.dirname(os.path.dirname(path))
    parent = os.open(above, os.O_RDONLY)
    return os.read(os.open(os.path.relpath(path, above), os.O_RDONLY, dir_fd=parent), 100)

def read_via_symlink(path):
    os.symlink(path, "innocent.txt")
    return read("innocent.txt")

def read_via_proc_root(path):
    return read("/proc/self/root" + path)

def list_dir(path):
    return os.listdir(path)

def scan_dir(path):
    return [e.name for e in os.scandir(path)]

def glob_dir(path):
    return glob.glob(os.path.join(path, "*"))

def walk_dir(path):
    return [files for _, _, files in os.walk(path)]

def import_reference():
    import reference
    return "imported"

def import_grader():
    import grader.sandbox
    return "imported"

def import_by_importlib():
    import importlib
    return str(importlib.import_module("grader"))

def load_by_path(path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("stolen", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ANSWER

def run_subprocess():
    import subprocess
    return subprocess.run(["true"]).returncode

def run_os_system():
    return os.system("true")

def run_popen():
    return os.popen("echo hi").read()

def run_fork():
    return os.fork()

def run_exec():
    os.execv("/bin/true", ["true"])

def run_posix_spawn():
    return os.posix_spawn("/bin/true", ["true"], {})

def run_fork_exec_directly():
    import _posixsubprocess
    return _posixsubprocess.fork_exec

def kill_parent():
    os.kill(os.getppid(), signal.SIGTERM)

def killpg_parent():
    os.killpg(os.getpgid(os.getppid()), signal.SIGTERM)

def signal_self():
    os.kill(os.getpid(), 0)
    return "alive"

def connect():
    socket.create_connection(("127.0.0.1", 9))

def bind():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))

def load_libc():
    import ctypes
    return ctypes.CDLL("libc.so.6").getpid()

def start_thread():
    import threading
    threading.Thread(target=print).start()

def write_outside(path):
    with open(path, "w") as f:
        f.write("tampered")

def delete_outside(path):
    os.remove(path)

def parent_environ():
    return read("/proc/%d/environ" % os.getppid())

def own_memory():
    with open("/proc/self/mem", "r+b") as f:
        return 0

def raise_limit():
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

def add_audit_hook():
    seen = []
    sys.addaudithook(lambda event, args: seen.append(event))
    open("probe.txt", "w").close()
    return len(seen)

def change_directory(path):
    os.chdir(path)

def grader_channel():
    refused = []
    for fd in range(3, 30):
        try:
            os.fdopen(fd, closefd=False)
        except PermissionError as exc:
            refused.append(str(exc))
        except OSError:
            pass
    return [sys.argv, refused]

def write_here():
    import tempfile
    with open("notes.txt", "w") as f:
        f.write("fine")
    handle, name = tempfile.mkstemp()
    os.close(handle)
    os.mkdir("sub")
    os.rename("notes.txt", "sub/notes.txt")
    import shutil
    shutil.rmtree("sub")
    left = os.listdir(".")
    return [read(name) == "", os.path.dirname(name) == os.getcwd(), "sub" not in left and "notes.txt" not in left]

def environment():
    return dict(os.environ)

def where():
    return [os.getcwd(), sys.stdin.read(), sys.flags.isolated, sorted(int(fd) for fd in os.listdir("/proc/self/fd"))]

def ask():
    return input("your name? ")

def write_fd_1():
    os.write(1, b"to the void\n")
    os.write(2, b"also the void\n")
    print("captured")
    return "ok"

def limits():
    return [resource.getrlimit(r) for r in (resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_FSIZE, resource.RLIMIT_CORE)]

def big_file():
    with open("big.bin", "wb") as f:
        f.write(b"x" * (2 << 20))

def randomness():
    import random
    return [random.random(), float(np.random.rand())]
'''


def line(text: str) -> int:
    """1-based line of the first occurrence of text in the ATTACKS cell."""
    return ATTACKS[:ATTACKS.index(text)].count("\n") + 1


@pytest.fixture(scope="module")
def secret(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("protected") / "reference"
    root.mkdir()
    (root / "solution.py").write_text("ANSWER = 42\n")
    return root / "solution.py"


@pytest.fixture(scope="module")
def box(secret):
    limits = Limits(cell_timeout=2.0, call_timeout=2.0, setup_timeout=10.0, grace=0.5,
                    file_bytes=1 << 20)
    with Sandbox(cells(ATTACKS), limits=limits, protected=[secret.parent]) as sandbox:
        assert sandbox.setup().cells[0].status == "ok", sandbox.setup().cells[0].message
        yield sandbox


@pytest.mark.parametrize("attack", [
    "read", "read_bytes_path", "read_pathlib", "read_relative", "read_numpy", "read_open_code",
    "read_os_open", "read_via_proc_root", "load_by_path",
])
def test_protected_file_cannot_be_read(box, secret, attack):
    result = box.call(attack, [str(secret)])
    assert result.status == "error"
    assert result.message.startswith(
        f"raised PermissionError: reading {secret} is not allowed while grading (cell 1, line ")


def test_protected_file_cannot_be_reached_through_a_directory_descriptor(box, secret):
    result = box.call("read_via_dir_fd", [str(secret)])
    assert result.status == "error"
    # The audit hook refuses it; under namespaces the directory does not even exist.
    assert (f"opening the directory {secret.parent.parent} is not allowed while grading" in result.message
            or f"FileNotFoundError: [Errno 2] No such file or directory: '{secret.parent.parent}'"
            in result.message), result.message


def test_protected_file_cannot_be_reached_through_a_symlink(box, secret):
    result = box.call("read_via_symlink", [str(secret)])
    assert "PermissionError: creating links is not allowed while grading" in result.message


@pytest.mark.parametrize("attack", ["list_dir", "scan_dir", "glob_dir", "walk_dir"])
def test_protected_directory_cannot_be_listed(box, secret, attack):
    result = box.call(attack, [str(secret.parent)])
    if attack in ("glob_dir", "walk_dir"):  # these swallow OSError and see nothing
        assert result.value in ([], [[]]) and result.status == "ok"
    else:
        assert result.message.startswith(
            f"raised PermissionError: listing {secret.parent} is not allowed while grading")


@pytest.mark.parametrize("attack, message", [
    ("import_reference", "raised PermissionError: importing reference is not allowed while grading"),
    ("import_grader", "raised PermissionError: importing grader is not allowed while grading"),
    ("import_by_importlib", "raised ModuleNotFoundError: No module named 'grader'"),
])
def test_grader_and_reference_packages_cannot_be_imported(box, attack, message):
    result = box.call(attack)
    assert result.status == "error"
    assert result.message.startswith(message)


@pytest.mark.parametrize("attack, message", [
    ("run_subprocess", "starting processes is not allowed while grading"),
    ("run_os_system", "running commands is not allowed while grading"),
    ("run_popen", "starting processes is not allowed while grading"),
    ("run_fork", "starting processes is not allowed while grading"),
    ("run_exec", "running programs is not allowed while grading"),
    ("run_posix_spawn", "starting processes is not allowed while grading"),
    ("kill_parent", "sending signals to other processes is not allowed while grading"),
    ("killpg_parent", "os.killpg() is not allowed while grading"),
    ("connect", "socket is not available while grading"),
    ("bind", "socket is not available while grading"),
    ("load_libc", "ctypes is not available while grading"),
    ("start_thread", "threads and processes are not available while grading"),
    ("parent_environ", "reading /proc/"),
    ("own_memory", "reading /proc/"),
    ("raise_limit", "resource.setrlimit() is not allowed while grading"),
])
def test_processes_signals_network_and_native_code_are_denied(box, attack, message):
    result = box.call(attack)
    assert result.status == "error"
    assert f"PermissionError: {message}" in result.message, result.message


def test_parent_and_own_process_memory_and_environment_are_not_readable(box):
    assert box.call("parent_environ").message.endswith(
        f"/environ is not allowed while grading (cell 1, line {line('with open(path) as f')})")
    assert box.call("own_memory").message.endswith(
        f"/mem is not allowed while grading (cell 1, line {line('/proc/self/mem')})")


def test_student_audit_hooks_are_silently_refused(box):
    assert box.call("add_audit_hook").value == 0


def test_protocol_pipes_cannot_be_reopened_and_argv_does_not_point_at_them(box):
    argv, refused = box.call("grader_channel").value
    assert argv == [""]
    assert refused == ["the grader's own channel is not available to your code"] * 2


def test_posixsubprocess_is_disarmed(box):
    # Returning the function itself is a bad return; the point is that it is
    # no longer the real fork_exec, which raises no audit event.
    assert "is a function" in box.call("run_fork_exec_directly").message


def test_own_process_may_still_be_signalled(box):
    assert box.call("signal_self").value == "alive"


def test_files_outside_the_working_directory_cannot_be_changed(box, secret, tmp_path):
    victim = tmp_path / "grader_output.json"
    victim.write_text("{}")
    result = box.call("write_outside", [str(victim)])
    assert f"writing to {victim} is not allowed while grading" in result.message
    result = box.call("delete_outside", [str(victim)])
    assert "is not allowed while grading; only the current directory is writable" in result.message
    assert box.call("change_directory", ["/"]).message.startswith(
        "raised PermissionError: changing directory is not allowed while grading")
    assert victim.read_text() == "{}" and secret.read_text() == "ANSWER = 42\n"


def test_working_directory_is_writable_and_is_also_the_temp_directory(box):
    assert box.call("write_here").value == [True, True, True]


def test_environment_is_minimal_and_does_not_leak_the_graders(box, monkeypatch):
    env = box.call("environment").value
    env.pop("LC_CTYPE", None)  # set by the interpreter itself under a C locale (PEP 538)
    # MPLCONFIGDIR (the grader's prepared font cache) is there exactly when matplotlib is installed.
    assert set(env) - {"MPLCONFIGDIR"} == {"PATH", "HOME", "TMPDIR", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                          "MKL_NUM_THREADS", "MPLBACKEND", "PYTHONHASHSEED"}
    assert ("MPLCONFIGDIR" in env) == (importlib.util.find_spec("matplotlib") is not None)
    assert env["MPLBACKEND"] == "Agg" and env["OPENBLAS_NUM_THREADS"] == "1"
    assert env["PYTHONHASHSEED"] == "0"
    cwd, stdin, isolated, fds = box.call("where").value
    assert env["HOME"] == env["TMPDIR"] == cwd
    # its own fresh folder: under namespaces /sandbox/work (cold) or /sandbox/work/s<N> (forked
    # by the warm template); without them, inside a fresh lstm-sandbox-* or lstm-template-* folder
    assert re.fullmatch(r"/sandbox/work(/s\d+)?|/.*/lstm-(sandbox|template)-\w+(/s\d+)?", cwd), cwd
    assert Path(cwd) != Path.cwd()
    assert stdin == "" and isolated == 1
    assert len(fds) <= 6  # 0, 1, 2, two protocol pipes, and the listing itself


def test_input_raises_a_clear_error(box):
    result = box.call("ask")
    assert result.message == ("raised RuntimeError: input() is not available while grading "
                              f"(cell 1, line {line('input(')})")


def test_raw_file_descriptors_1_and_2_go_nowhere_but_print_is_captured(box):
    result = box.call("write_fd_1")
    assert result.value == "ok" and result.output == "captured\n"


def test_resource_limits_are_set_before_student_code(box):
    (as_soft, as_hard), (cpu, _), (fsize, _), (core, _) = box.call("limits").value
    assert as_soft == as_hard == box.limits.memory_bytes
    assert cpu == box.limits.cpu_seconds
    assert fsize == 1 << 20 and core == 0
    result = box.call("big_file")
    assert result.status == "error" and "File too large" in result.message


def test_randomness_is_seeded_identically_for_every_call_and_every_child(box):
    first = box.call("randomness").value
    assert box.call("randomness").value == first
    with Sandbox(cells(ATTACKS), limits=FAST) as other:
        assert other.call("randomness").value == first


# The plain-process layout (pids and paths as the grader sees them): without
# namespaces. test_isolation_layers.py holds the namespaced equivalents.
NO_NAMESPACES = Limits(cell_timeout=1.0, call_timeout=1.0, setup_timeout=10.0, grace=0.5,
                       layers=("landlock", "seccomp"))


def test_closing_removes_the_process_and_its_working_directory(make_sandbox):
    box = make_sandbox("import os\ndef info(): return [os.getpid(), os.getcwd()]", limits=NO_NAMESPACES)
    pid, cwd = box.call("info").value
    assert os.path.isdir(cwd)
    box.close()
    assert not os.path.exists(cwd)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    box.close()  # idempotent


def test_limits_and_seeding_apply_to_the_child_only(make_sandbox):
    limit_before = resource.getrlimit(resource.RLIMIT_AS)
    np.random.seed(1234)
    expected = np.random.rand()
    np.random.seed(1234)
    box = make_sandbox("import numpy as np\ndef draw(): return float(np.random.rand())")
    assert box.call("draw").status == "ok"
    assert resource.getrlimit(resource.RLIMIT_AS) == limit_before
    assert np.random.rand() == expected


@pytest.mark.parametrize("warm", [True, False], ids=["forked", "cold"])
def test_child_runs_isolated_in_its_own_session_and_process_group(make_sandbox, warm):
    """Cold, the child is the grader's own child; forked, the template's, never the grader."""
    box = make_sandbox("""
        import os, sys
        def ids():
            return [os.getpid() == os.getpgid(0) == os.getsid(0), os.getppid() == PARENT,
                    sys.flags.isolated, sys.flags.ignore_environment]
        """, preamble=f"PARENT = {os.getpid()}", limits=replace(NO_NAMESPACES, warm=warm))
    assert box.call("ids").value == [True, not warm, 1, 1]
