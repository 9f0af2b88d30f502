"""Committed bytes and graded numbers do not depend on the CPU.

NumPy picks its exp/tanh kernels and BLAS picks its loops by the CPU's SIMD
features, and their last bits differ. The grader never lets them decide a
number: this test regenerates every student notebook and grades every example
in a subprocess with AVX-512, AVX2 and FMA switched off (as an older or other
CPU would run), with a cache of its own, and requires the same bytes as the
committed notebooks and the same JSON reports as this process produces.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader import grade_many, load_assignment  # noqa: F401 - grade_many is used by exec(REPORTS)
from grader.assignment import ASSIGNMENTS_DIR  # noqa: F401 - used by exec(REPORTS)
from grader.authoring.build import pack_dirs, student_notebook_text, student_path

try:
    import tomllib
except ModuleNotFoundError:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
# NumPy 2.2 dispatches on no AVX512_SPR kernel and warns when it is named, so it is left out.
OTHER_CPU = "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX2 FMA3"

# Defined here and sent verbatim to the subprocess, so both sides grade the same way.
REPORTS = textwrap.dedent('''
    def reports_of():
        """Every example of every pack, graded; the wall-clock field left out."""
        out = {}
        for toml in sorted(ASSIGNMENTS_DIR.glob("*/examples/expected.toml")):
            assignment = load_assignment(toml.parent.parent.name)
            files = [e["file"] for e in tomllib.loads(toml.read_text(encoding="utf-8"))["example"]]
            for report in grade_many(assignment, [toml.parent / f for f in files], jobs=2):
                data = report.to_dict()
                data.pop("seconds")
                out[f"{assignment.name}/{report.submission}"] = data
        return out
''')
exec(REPORTS)

SCRIPT = textwrap.dedent('''
    import json, sys
    try:
        import tomllib
    except ModuleNotFoundError:
        import tomli as tomllib
    from grader import grade_many, load_assignment
    from grader.assignment import ASSIGNMENTS_DIR
    from grader.authoring.build import pack_dirs, student_notebook_text
''') + REPORTS + textwrap.dedent('''
    out = {"notebooks": {d.name: student_notebook_text(d) for d in pack_dirs()}, "reports": reports_of()}
    json.dump(out, sys.stdout)
''')


@pytest.fixture(scope="module")
def other_cpu(tmp_path_factory):
    env = dict(os.environ, NPY_DISABLE_CPU_FEATURES=OTHER_CPU,
               LSTM_GRADER_CACHE=str(tmp_path_factory.mktemp("cache-other-cpu")))
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_the_subprocess_really_runs_on_other_kernels():
    """NumPy honours the switch: the features are gone from its dispatch report."""
    env = dict(os.environ, NPY_DISABLE_CPU_FEATURES=OTHER_CPU)
    code = "import numpy._core._multiarray_umath as m, json; print(json.dumps(m.__cpu_features__))"
    features = json.loads(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                         text=True, check=True).stdout)
    assert not features["AVX2"] and not features["FMA3"] and not features["AVX512F"]


@pytest.mark.slow
def test_student_notebooks_are_byte_identical_on_another_cpu(other_cpu):
    for pack in pack_dirs():
        committed = student_path(load_assignment(pack.name)).read_text(encoding="utf-8")
        assert other_cpu["notebooks"][pack.name] == committed, f"{pack.name}: the notebook differs on another CPU"
        assert student_notebook_text(pack) == committed, f"{pack.name}: the committed notebook is stale"


@pytest.mark.slow
def test_example_reports_are_identical_on_another_cpu(other_cpu):
    here = reports_of()  # noqa: F821 - defined by exec(REPORTS) above
    assert sorted(here) == sorted(other_cpu["reports"])
    for key, report in here.items():
        assert json.loads(json.dumps(report)) == other_cpu["reports"][key], key
