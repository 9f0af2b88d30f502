"""The package face: `from grader import grade` is the function, whatever was imported before."""
import subprocess
import sys


def test_grade_is_the_function_even_after_the_pipeline_module_was_imported():
    code = ("import grader.grading, grader.batch\n"
            "from grader import grade\n"
            "print(callable(grade) and grade.__module__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "grader.grading"


def test_importing_the_package_loads_no_sympy():
    code = "import sys, grader, grader.cli\nprint('sympy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
