"""Gradescope autograding: the zip, the in-container run, and results.json.

    build.py       python -m grader.gradescope.build ASSIGNMENT -> dist/ASSIGNMENT-autograder.zip
    templates/     setup.sh (once per image) and run_autograder (once per submission)
    launch.py      what run_autograder starts: run.py, without importing the grading engine
    run.py         the supervisor; worker.py grades in a process of its own
    locate.py      which uploaded file to grade
    privileges.py  the sandbox user, folder permissions, killing leftover processes
    results.py     Report -> results.json, validated against results.schema.json, written once
    layout.py      the container's paths and the manifest the build leaves in the zip

The instructor's guide is docs/gradescope.md.
"""
