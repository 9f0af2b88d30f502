"""The warm template (zygote.py): forked children are as separate as cold ones.

Each submission's child is a fresh fork of a template that never runs
student code: nothing one submission writes, changes in memory or leaves
running reaches the next, and a template that dies costs only the call in
progress.
"""
from __future__ import annotations

import os
import signal
import time

import pytest

from grader.sandbox import Limits, Sandbox, isolation, zygote
from grader.source import CodeCell

PROBED = isolation.probe()
FAST = Limits(cell_timeout=2.0, call_timeout=2.0, setup_timeout=10.0, grace=0.5)

# Everything a submission might leave for the next: files wherever it can
# write, and changes to the modules every child shares.
PLANT = """
import io, os, pathlib, numpy, sympy
PLANTED = []
for folder in ("/tmp", "/dev/shm", os.environ["HOME"], os.path.dirname(os.getcwd())):
    try:  # a path-like object: past the audit hook, only the kernel (or the cleanup) stops it
        io.FileIO(pathlib.Path(folder, "planted-by-a-classmate"), "w").write(b"x")
        PLANTED.append(folder)
    except OSError:
        pass
numpy.PLANTED = True
sympy.exp = lambda x: 0
def where():
    return [os.getcwd(), PLANTED]
"""

FIND = """
import os, numpy, sympy
def found():
    seen = []
    for folder in ("/tmp", "/dev/shm", os.environ["HOME"], os.path.dirname(os.getcwd())):
        try:
            if "planted-by-a-classmate" in os.listdir(folder):
                seen.append(folder)
        except OSError:
            pass
    return {"files": seen, "numpy": hasattr(numpy, "PLANTED"),
            "sympy": str(sympy.exp(sympy.Symbol("a")))}
"""

LAYER_SETS = {"all": None, "namespaces": ("namespaces",), "landlock+seccomp": ("landlock", "seccomp")}


@pytest.mark.parametrize("layers", list(LAYER_SETS), ids=list(LAYER_SETS))
def test_nothing_one_submission_leaves_reaches_the_next(layers):
    wanted = LAYER_SETS[layers]
    if wanted and not all(PROBED.has(layer) for layer in wanted):
        pytest.skip(PROBED.summary())
    limits = Limits(cell_timeout=2.0, call_timeout=2.0, layers=wanted)
    with Sandbox([CodeCell(1, PLANT)], limits=limits) as first:
        cwd, planted = first.call("where").value
        template = first._holder[0].proc.template
    assert os.environ.get("HOME") not in planted
    assert cwd in planted  # its own folder, at least: the grader removed it
    assert not os.path.exists(cwd.replace(template.work_inside, template.work_outside, 1))
    if layers == "namespaces":
        assert "/tmp" in planted  # the private /tmp: the template emptied it
    with Sandbox([CodeCell(1, FIND)], limits=limits) as second:
        assert second.call("found").value == {"files": [], "numpy": False, "sympy": "exp(a)"}
        assert second._holder[0].proc.template is template  # forked from the same template


def test_each_submission_gets_a_fresh_process_and_folder_which_is_also_its_temp_folder():
    """The template computed its own temp folder before forking (tempfile caches
    it): each child must get its own, not the template's."""
    cell = ("import os, tempfile\ndef ids():\n"
            "    return [os.getpid(), os.getcwd(), tempfile.gettempdir(), os.environ['HOME']]\n")
    seen = []
    for _ in range(3):
        with Sandbox([CodeCell(1, cell)], limits=FAST) as box:
            seen.append(tuple(box.call("ids").value))
    assert len({pid for pid, *_ in seen}) == 3 and len({cwd for _, cwd, *_ in seen}) == 3
    assert all(cwd == tmp == home for _, cwd, tmp, home in seen)


def test_a_template_that_dies_costs_the_call_in_progress_and_the_next_submission_gets_a_new_one():
    cell = "import time\ndef slow():\n    time.sleep(1.0)\n    return 1\ndef quick():\n    return 2\n"
    box = Sandbox([CodeCell(1, cell)], limits=FAST)
    box.setup()
    template = box._holder[0].proc.template
    if template.ns_init is not None:  # under namespaces: end the whole namespace, as a crash would
        signal.pidfd_send_signal(template.ns_init, signal.SIGKILL)
    else:
        os.kill(template.proc.pid, signal.SIGKILL)
    started = time.monotonic()
    result = box.call("slow")
    assert result.status == "crash" and time.monotonic() - started < 5
    assert box.call("quick").value == 2  # a fresh child, from a fresh template
    box.close()
    assert template.broken and template.proc.poll() is not None
    with Sandbox([CodeCell(1, cell)], limits=FAST) as other:
        assert other.call("quick").value == 2
        assert other._holder[0].proc.template is not template


def test_without_a_layer_that_can_end_a_forked_childs_processes_children_start_cold():
    """Landlock alone cannot stop a fork, and the template could not see the
    processes a child started: children are then started cold."""
    if not PROBED.has("landlock"):
        pytest.skip(PROBED.summary())
    with Sandbox([CodeCell(1, "x = 1")], limits=Limits(layers=("landlock",))) as box:
        box.setup()
        assert not isinstance(box._holder[0].proc, zygote.Forked)
    with Sandbox([CodeCell(1, "x = 1")], limits=Limits(layers=("seccomp",))) as box:
        box.setup()
        assert isinstance(box._holder[0].proc, zygote.Forked)


def test_a_template_serving_a_child_is_kept_when_others_are_started(tmp_path):
    """Templates are kept per set-up (here: protected folders) up to zygote.KEEP,
    the least recently used going first, but never one a live child came from."""
    cell = "import os\ndef pid():\n    return os.getpid()\n"
    with Sandbox([CodeCell(1, cell)], limits=FAST) as first:
        before = first.call("pid").value
        template = first._holder[0].proc.template
        for k in range(zygote.KEEP + 1):
            folder = tmp_path / f"protected-{k}"
            folder.mkdir()
            with Sandbox([CodeCell(1, cell)], limits=FAST, protected=[folder]) as other:
                assert other.call("pid").status == "ok"
        assert not template.broken and len(zygote._templates) <= zygote.KEEP + 1
        assert first.call("pid").value == before  # the same child, never restarted
    assert first.setup().restarts == 0
