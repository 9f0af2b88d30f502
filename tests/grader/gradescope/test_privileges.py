"""Privilege separation, piece by piece: the sandbox child as another user
(Limits.run_as), folder permissions, and the reaper of leftover processes."""
from __future__ import annotations

import os
import pwd
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.gradescope.layout import Paths
from grader.gradescope.privileges import (Identity, PrivilegeError, processes_of, reap, sandbox_identity,
                                          secure)
from grader.sandbox import Limits, Sandbox, zygote
from grader.sandbox.staging import RunAs
from grader.source import CodeCell

from .conftest import IS_ROOT

root_only = pytest.mark.skipif(not IS_ROOT, reason="switching users needs root")

PROBE = '''
import os, stat

def probe():
    here = top = os.getcwd()
    while not os.path.exists(os.path.join(top, "child.py")):  # work/ (cold) or work/s<N> (forked)
        top = os.path.dirname(top)
    script = os.path.join(top, "child.py")
    return {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "top": top, "cwd": here,
            "top_mode": oct(stat.S_IMODE(os.stat(top).st_mode)), "top_owner": os.stat(top).st_uid,
            "owns_cwd": os.stat(here).st_uid == os.getuid(),
            "script_writable": os.access(script, os.W_OK), "top_writable": os.access(top, os.W_OK),
            "above_writable": os.access(os.path.dirname(here), os.W_OK),
            "oom_score_adj": open("/proc/self/oom_score_adj").read().strip()}
'''


@pytest.fixture
def as_user(sandbox_user, sandbox_python, monkeypatch):
    """RunAs for the throwaway user, with the child started by an interpreter
    that user can execute (this venv's lives under /root)."""
    monkeypatch.setattr(sys, "executable", sandbox_python)
    entry = pwd.getpwnam(sandbox_user)
    yield RunAs(entry.pw_uid, entry.pw_gid)
    zygote.shutdown()  # its templates run as that user, and other tests count its processes


@root_only
def test_the_child_runs_as_the_given_user_with_no_groups_in_a_folder_it_owns_and_a_script_it_cannot_change(
        as_user):
    """Without the namespace layer: the host's folders, as the user sees them."""
    limits = Limits(run_as=as_user, layers=("landlock", "seccomp"))
    with Sandbox([CodeCell(1, PROBE)], limits=limits) as box:
        result = box.call("probe")
    assert result.status == "ok", result.message
    top, cwd = Path(result.value.pop("top")), Path(result.value.pop("cwd"))
    assert result.value == {"uid": as_user.uid, "gid": as_user.gid, "groups": [], "top_mode": "0o711",
                            "top_owner": 0, "owns_cwd": True, "script_writable": False,
                            "top_writable": False, "above_writable": False, "oom_score_adj": "1000"}
    assert not cwd.exists()  # closing removed the child's working folder
    zygote.shutdown()
    assert not top.exists()  # and ending the template removed its copy of child.py


@root_only
def test_inside_the_namespaces_the_user_sees_only_its_own_read_only_sandbox_folder(as_user):
    """With every layer: the child's folder is /sandbox, a read-only mount of its own."""
    with Sandbox([CodeCell(1, PROBE)], limits=Limits(run_as=as_user)) as box:
        result = box.call("probe")
    assert result.status == "ok", result.message
    seen = result.value
    assert (seen["uid"], seen["gid"], seen["groups"], seen["top"]) == (as_user.uid, as_user.gid, [], "/sandbox")
    assert seen["owns_cwd"] and not seen["script_writable"] and not seen["top_writable"] and not seen["above_writable"]
    assert seen["oom_score_adj"] == "1000"


@root_only
def test_the_child_as_another_user_cannot_start_processes_even_past_the_audit_hook(as_user):
    # RLIMIT_NPROC 0 binds once the child is not root: the kernel refuses fork itself.
    cell = ("import resource\n"
            "def limit():\n"
            "    return list(resource.getrlimit(resource.RLIMIT_NPROC))\n")
    with Sandbox([CodeCell(1, cell)], limits=Limits(run_as=as_user)) as box:
        assert box.call("limit").value == [0, 0]


@root_only
def test_a_plotting_cell_runs_as_the_sandbox_user_from_its_own_copy_of_the_font_cache(as_user):
    # matplotlib ignores a config folder it cannot write and rebuilds the font
    # cache, which starts a thread: the shared, root-owned cache would not do.
    cell = ("import os\n"
            "import matplotlib.pyplot as plt\n"
            "plt.semilogy([1, 10, 100])\n"
            "plt.savefig('plot.png')\n"
            "def where():\n"
            "    config = os.environ['MPLCONFIGDIR']\n"
            "    return [os.path.dirname(config) == os.getcwd(), os.stat(config).st_uid == os.getuid(),\n"
            "            os.path.getsize('plot.png') > 0]\n")
    with Sandbox([CodeCell(1, cell)], limits=Limits(run_as=as_user)) as box:
        assert [(c.status, c.message) for c in box.setup().cells] == [("ok", "")]
        assert box.call("where").value == [True, True, True]


def test_without_run_as_the_child_is_still_the_first_one_the_kernel_kills_for_memory():
    with Sandbox([CodeCell(1, PROBE)]) as box:
        assert box.call("probe").value["oom_score_adj"] == "1000"


def test_run_as_refuses_root():
    with pytest.raises(ValueError, match="must not run as root"):
        RunAs(0, 1000)
    with pytest.raises(ValueError, match="must not run as root"):
        RunAs(1000, 0)


@root_only
def test_sandbox_identity_resolves_the_user_and_refuses_a_missing_one(sandbox_user):
    entry = pwd.getpwnam(sandbox_user)
    assert sandbox_identity(sandbox_user) == Identity(entry.pw_uid, entry.pw_gid)
    with pytest.raises(PrivilegeError, match="the sandbox user 'no-such-user-here' does not exist"):
        sandbox_identity("no-such-user-here")
    with pytest.raises(PrivilegeError, match="no sandbox user is configured"):
        sandbox_identity("")
    with pytest.raises(PrivilegeError, match="has uid or gid 0"):
        sandbox_identity("root")


def test_secure_closes_everything_but_the_root_itself_and_hides_earlier_results(tmp_path):
    paths = Paths(tmp_path)
    for folder in (paths.source, paths.submission):
        folder.mkdir(mode=0o755)
    paths.metadata.write_text("{}")
    paths.metadata.chmod(0o644)
    secure(paths)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (paths.root, paths.source, paths.submission,
                                                              paths.results, paths.metadata)}
    assert modes == {tmp_path.name: 0o711, "source": 0o700, "submission": 0o700, "results": 0o700,
                     "submission_metadata.json": 0o600}


@root_only
def test_reap_kills_every_process_of_the_user_including_ones_that_left_their_session(sandbox_user):
    entry = pwd.getpwnam(sandbox_user)
    uid, gid = entry.pw_uid, entry.pw_gid
    direct = subprocess.Popen(["sleep", "300"], user=uid, group=gid, extra_groups=[], start_new_session=True)
    # A grandchild in a session of its own, its parent gone: what a double fork leaves behind.
    subprocess.run(["setpriv", "--reuid", str(uid), "--regid", str(gid), "--clear-groups", "sh", "-c",
                    "setsid sleep 300 </dev/null >/dev/null 2>&1 &"], check=True)
    deadline = time.monotonic() + 5
    while len(processes_of(uid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    before = processes_of(uid)
    assert len(before) == 2 and direct.pid in before
    assert sorted(reap(uid)) == sorted(before)
    assert processes_of(uid) == []
    assert direct.wait(timeout=5) == -9


def test_reap_refuses_to_target_root_or_the_grader_itself():
    with pytest.raises(PrivilegeError, match="refusing to kill every process of uid 0"):
        reap(0)
    with pytest.raises(PrivilegeError, match=f"refusing to kill every process of uid {os.geteuid()}"):
        reap(os.geteuid())
