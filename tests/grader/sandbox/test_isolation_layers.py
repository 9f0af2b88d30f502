"""The kernel walls around student code, layer by layer, and the hostile corpus.

Each file of tests/fixtures/hostile/ is one attack appended as a cell to the
correct lstm_scalar answers. Graded, it must keep its exact expected score
(``# score:`` in its header) and leave no trace: nothing it read shows up in
the report, nothing it wrote exists, no process of it survives grading and the
decoy process it aims signals at is alive.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import textwrap
import time
from pathlib import Path

import pytest

from grader import grade
from grader.sandbox import Limits, Sandbox, SandboxError, isolation, zygote
from grader.sandbox.mplcache import matplotlib_config_dir
from grader.sandbox.process import CHILD_SCRIPT
from grader.source import CodeCell

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests" / "fixtures" / "hostile"
ATTACKS = sorted(p.stem for p in CORPUS.glob("*.py"))
PROBED = isolation.probe()
FAST = Limits(call_timeout=1.0, cell_timeout=1.0, grace=0.5, memory_bytes=1 << 30)
# One run per layer alone, and all of them together.
LAYER_SETS = {"all": None, **{layer: (layer,) for layer in isolation.WALLS}}


def header(name: str) -> dict:
    lines = (CORPUS / f"{name}.py").read_text().splitlines()
    return {"attack": lines[0].removeprefix("# attack: "),
            "score": float(lines[1].removeprefix("# score: "))}


@pytest.fixture
def victim():
    """A process of the grader's user that attacks aim signals at."""
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield proc.pid
    proc.kill()
    proc.wait()


@pytest.fixture
def arena(tmp_path, victim, monkeypatch):
    """The placeholders of the corpus, pointing at things the child must not reach."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "classmate.ipynb").write_text('{"LEAK": "a classmate\'s answers"}')
    token = os.urandom(6).hex()
    monkeypatch.setenv("LSTM_HOSTILE_TOKEN", "SECRET" + os.urandom(6).hex())
    return {"__SOLUTION__": str(ROOT / "assignments" / "lstm_scalar" / "solution.ipynb"),
            "__GRADER_FILE__": str(ROOT / "grader" / "sandbox" / "runner.py"),
            "__GRADER_DIR__": str(ROOT / "grader"), "__OUTSIDE__": str(outside),
            "__VICTIM__": str(victim), "__TOKEN__": token}


def _attack_source(name: str, arena: dict) -> str:
    text = (CORPUS / f"{name}.py").read_text()
    for key, value in arena.items():
        text = text.replace(key, value)
    return text


def _traces(arena: dict) -> list[str]:
    """Every effect of an attack that is visible after grading."""
    found = sorted(p.name for p in Path(arena["__OUTSIDE__"]).iterdir() if p.name != "classmate.ipynb")
    token = arena["__TOKEN__"]
    found += [str(p) for p in Path(arena["__GRADER_DIR__"]).glob(f"pwned_{token}*")]
    found += [p for p in (f"/tmp/lstm-pwned-{token}",) if os.path.exists(p)]
    # Not os.kill(pid, 0): the victim is our child, so once killed it is a
    # zombie until waited for, and signal 0 still reaches a zombie.
    if not _alive(int(arena["__VICTIM__"])):
        found.append("victim killed")
    return found


def _clean(arena: dict) -> None:
    for path in Path(arena["__GRADER_DIR__"]).glob(f"pwned_{arena['__TOKEN__']}*"):
        path.unlink()


def _grade(name, scalar, overlay, arena, layers):
    path = overlay(_attack_source(name, arena))
    try:
        report = grade(scalar, path, FAST if layers is None else Limits(
            call_timeout=1.0, cell_timeout=1.0, grace=0.5, memory_bytes=1 << 30, layers=layers))
        time.sleep(0.2)
        return report, _traces(arena)
    finally:
        _clean(arena)


@pytest.mark.parametrize("name", ATTACKS)
def test_every_attack_of_the_corpus_keeps_its_score_and_leaves_no_trace(name, scalar, overlay, arena):
    report, traces = _grade(name, scalar, overlay, arena, None)
    text = report.to_json()
    assert report.grader_error == ""
    assert report.score == header(name)["score"], text
    assert "RuntimeError: LEAK:" not in text and os.environ["LSTM_HOSTILE_TOKEN"] not in text
    assert "\x1b" not in text and "\\u001b" not in text
    assert traces == []


def test_a_daemon_started_by_student_code_does_not_outlive_grading(scalar, overlay, arena):
    # The daemon sleeps 1.5 s before writing; wait past that.
    report, _ = _grade("daemon_fresh_posixsubprocess", scalar, overlay, arena, None)
    time.sleep(2.0)
    assert report.score == 33 and _traces(arena) == []


# Attacks that get past the audit hook, and the layers that must stop each alone.
PAST_THE_HOOK = {
    "read_solution_fileio_pathlib": ("namespaces", "landlock"),
    "read_lying_pathlike": ("namespaces", "landlock"),
    "write_outside_os_open": ("namespaces", "landlock"),
    "write_shared_tmp": ("namespaces", "landlock"),
    "fork_fresh_posix": ("seccomp",),
    "daemon_fresh_posixsubprocess": ("seccomp",),
    "pidfd_send_signal_victim": ("namespaces", "seccomp"),
}


@pytest.mark.parametrize("name,layer", [(n, layer) for n, layers in PAST_THE_HOOK.items()
                                        for layer in layers])
def test_each_layer_alone_stops_the_attacks_it_is_for(name, layer, scalar, overlay, arena):
    if not PROBED.has(layer):
        pytest.skip(f"{layer}: {PROBED.missing[layer]}")
    report, traces = _grade(name, scalar, overlay, arena, (layer,))
    time.sleep(1.8 if name.startswith("daemon") else 0)
    assert report.score == 33 and "RuntimeError: LEAK:" not in report.to_json()
    assert _traces(arena) == [] and traces == []


# -- each layer applied directly, with no audit hook in the way -----------------

def _confined(layer: str, attack: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run ``attack`` in a fresh interpreter after applying one layer by hand."""
    apply = {"seccomp": "confine.apply_seccomp(os.getpid())",
             "landlock": f"confine.apply_landlock({list(isolation.SYSTEM) + list(isolation.readable_paths(sys.executable, ()))!r}, [{str(tmp_path)!r}])"}[layer]
    code = (f"import os, sys\nsys.path.insert(0, {str(CHILD_SCRIPT.parent)!r})\nimport confine\n"
            f"{apply}\n{textwrap.dedent(attack)}")
    return subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                          timeout=30, cwd=tmp_path)


SECCOMP_DENIES = {
    "fork": "os.fork()",
    "exec": "os.execv('/bin/true', ['true'])",
    "socket": "import socket; socket.socket()",
    "signal another process": "os.kill(os.getppid(), 0)",
    "posix_spawn": "os.posix_spawn('/bin/true', ['true'], {})",
    "pidfd_open": "os.pidfd_open(os.getppid())",
}


@pytest.mark.parametrize("what", sorted(SECCOMP_DENIES))
def test_seccomp_alone_turns_each_denied_call_into_a_permission_error(what, tmp_path):
    if not PROBED.has("seccomp"):
        pytest.skip(PROBED.missing["seccomp"])
    done = _confined("seccomp", f"try:\n    {SECCOMP_DENIES[what]}\n    print('allowed')\n"
                                "except PermissionError:\n    print('denied')", tmp_path)
    assert (done.stdout.strip(), done.returncode) == ("denied", 0), done.stderr


def test_seccomp_still_allows_threads_and_signals_to_itself(tmp_path):
    if not PROBED.has("seccomp"):
        pytest.skip(PROBED.missing["seccomp"])
    done = _confined("seccomp", """
        import signal, threading
        out = []
        t = threading.Thread(target=lambda: out.append(1)); t.start(); t.join()
        signal.signal(signal.SIGUSR1, lambda *a: out.append(2))
        os.kill(os.getpid(), signal.SIGUSR1)
        print(out)""", tmp_path)
    assert (done.stdout.strip(), done.returncode) == ("[1, 2]", 0), done.stderr


def test_landlock_alone_allows_the_runtime_and_the_working_folder_and_nothing_else(tmp_path):
    if not PROBED.has("landlock"):
        pytest.skip(PROBED.missing["landlock"])
    done = _confined("landlock", f"""
        import numpy
        open("mine.txt", "w").write("ok")
        out = [open("mine.txt").read()]
        for path in ({str(ROOT / "grader" / "cli.py")!r}, "/etc/hostname"):
            try:
                open(path).read(); out.append("read")
            except PermissionError:
                out.append("denied")
        print(out)""", tmp_path)
    assert (done.stdout.strip(), done.returncode) == ("['ok', 'denied', 'denied']", 0), done.stderr


# -- namespaces, the probe and the policy ------------------------------------------

NAMESPACE_VIEW = '''
import io, os, pathlib
def peek(path):
    try:  # a path-like object: the audit hook lets it through, only the kernel can stop it
        return io.FileIO(pathlib.Path(path)).read(1) and "read"
    except OSError as exc:
        return type(exc).__name__
def view():
    return {"pid": os.getpid(), "procs": sorted(p for p in os.listdir("/proc") if p.isdigit()),
            "cwd": os.getcwd(), "grader": os.path.exists(GRADER), "tmp": os.listdir("/tmp"),
            "parent": [peek(f"/proc/{os.getppid()}/{name}") for name in ("environ", "mem")]}
'''


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "forked"])
def test_under_namespaces_the_child_sees_only_itself_and_its_own_files(warm):
    """Cold, the namespace holds bwrap's init and the child; forked, the template too,
    whose memory and environment the child cannot read (it is not dumpable)."""
    if not PROBED.has("namespaces"):
        pytest.skip(PROBED.missing["namespaces"])
    cell = f"GRADER = {str(ROOT / 'grader')!r}\n" + NAMESPACE_VIEW
    limits = Limits(layers=("namespaces",), warm=warm)
    with Sandbox([CodeCell(1, cell)], limits=limits) as box:
        result = box.call("view")
    # /tmp is private: what shows there is only what is bound into it read-only, the
    # matplotlib font cache and, when the checkout itself lives in /tmp (as a CI clone
    # may), the runtime's own folders.
    bound = [matplotlib_config_dir() or "", *isolation.runtime_paths(sys.executable)]
    tmp = result.value.pop("tmp")
    assert all(any(path.startswith(f"/tmp/{name}/") for path in bound) for name in tmp), tmp
    view = result.value
    if not warm:
        assert view.pop("parent")[1] != "read"  # bwrap's init: its environment is the child's
        assert view == {"pid": 2, "procs": ["1", "2"], "cwd": "/sandbox/work", "grader": False}
    else:
        pid = view.pop("pid")
        assert pid > 2 and re.fullmatch(r"/sandbox/work/s\d+", view.pop("cwd"))
        assert view == {"procs": ["1", "2", str(pid)], "grader": False,
                        "parent": ["PermissionError", "PermissionError"]}


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_closing_a_cold_sandbox_leaves_no_process_of_its_namespace():
    if not PROBED.has("namespaces"):
        pytest.skip(PROBED.missing["namespaces"])
    box = Sandbox([CodeCell(1, "x = 1")], limits=Limits(layers=("namespaces",), warm=False))
    box.setup()
    bwrap = box._holder[0].proc.proc.pid
    init = int(Path(f"/proc/{bwrap}/task/{bwrap}/children").read_text().split()[0])
    command = int(Path(f"/proc/{init}/task/{init}/children").read_text().split()[0])
    assert _alive(init) and _alive(command)
    box.close()
    assert not _alive(init) and not _alive(command)


# A submission that leaves a sleeper behind: a fresh copy of _posixsubprocess
# (where it is built into the interpreter, as in Debian's python3) forks
# without any audit event, and with namespaces alone, as root and without
# another uid, only the template's sweep of its PID namespace ends the sleeper.
LINGER_CELL = """
import importlib.machinery as m, os, sys
spec = m.ModuleSpec("_posixsubprocess", m.BuiltinImporter, origin="built-in")
ps = m.BuiltinImporter.create_module(spec)
m.BuiltinImporter.exec_module(ps)
args = [sys.executable.encode(), b"-c", b"import time; time.sleep(600)"]
r, w = os.pipe()
ps.fork_exec(args, [args[0]], True, (w,), None, None, -1, -1, -1, -1, -1, -1, r, w, False,
             True, -1, None, None, None, -1, None, False)
"""
LINGER_SCRIPT = """
import json, os, sys
from grader.sandbox import Limits, Sandbox, zygote
from grader.source import CodeCell

def members(template):
    with open(f"/proc/self/fdinfo/{template.ns_init}") as fh:
        init = next(int(line.split()[1]) for line in fh if line.startswith("Pid:"))
    target = os.readlink(f"/proc/{init}/ns/pid")
    found = []
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and os.readlink(f"/proc/{name}/ns/pid") == target:
                with open(f"/proc/{name}/status") as fh:
                    if "State:\\tZ" not in fh.read():
                        found.append(int(name))
        except OSError:
            pass
    return found

box = Sandbox([CodeCell(1, sys.argv[1])], limits=Limits(layers=("namespaces",), cell_timeout=5.0))
box.setup()
template = box._holder[0].proc.template
during = members(template)
box.close()
after = members(template)
zygote.shutdown()
print(json.dumps({"during": len(during), "after": len(after),
                  "gone": template.proc.poll() is not None}))
"""


@pytest.fixture(scope="module")
def debian_python(tmp_path_factory):
    """The system's python3 (its _posixsubprocess is built in) seeing this venv's packages."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    base = Path(f"/usr/bin/python{version}")
    if not base.exists():
        pytest.skip(f"no system python{version}")
    probe = subprocess.run([str(base), "-c", "import sys; print('_posixsubprocess' in "
                            "sys.builtin_module_names)"], capture_output=True, text=True)
    if probe.stdout.strip() != "True":
        pytest.skip("the system python's _posixsubprocess is not built in")
    top = tmp_path_factory.mktemp("debian-python")
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(top / "venv")], check=True)
    python = top / "venv" / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "project.pth").write_text(f"{sysconfig.get_paths()['purelib']}\n{ROOT}\n")
    return python


def test_a_forked_submission_leaves_no_process_behind_and_shutdown_ends_the_template(debian_python):
    """What a submission started is ended when it ends (the template sweeps its
    namespace), before the next one starts; zygote.shutdown ends the rest."""
    if not PROBED.has("namespaces"):
        pytest.skip(PROBED.missing["namespaces"])
    if os.geteuid() != 0:
        pytest.skip("a normal user's child cannot fork at all (RLIMIT_NPROC)")
    done = subprocess.run([str(debian_python), "-c", LINGER_SCRIPT, LINGER_CELL], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    # during: bwrap's init, the template, the child and its sleeper; after: init and template
    assert json.loads(done.stdout) == {"during": 4, "after": 2, "gone": True}


def test_the_probe_summary_names_every_layer_once():
    line = PROBED.summary()
    assert line.startswith("isolation: ")
    named = set(PROBED.layers) | set(PROBED.missing)
    assert named == set(isolation.LAYERS)
    assert "rlimits" in PROBED.layers


def test_with_no_wall_grading_is_refused_unless_explicitly_unsafe():
    with pytest.raises(SandboxError, match="no isolation layer the kernel enforces"):
        Sandbox([CodeCell(1, "x = 1")], limits=Limits(layers=())).setup()
    with Sandbox([CodeCell(1, "def f():\n    return 7\n")],
                 limits=Limits(layers=(), unsafe_no_isolation=True)) as box:
        assert box.call("f").value == 7


def test_an_unknown_layer_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown isolation layers \['chroot'\]"):
        Sandbox([CodeCell(1, "x = 1")], limits=Limits(layers=("chroot",))).setup()
