"""The sandbox child: the code that runs next to student code.

These modules are staged into every sandbox and loaded there by path by
``main.py`` (the entry point, staged as ``child.py``), never imported by the
grader: the child runs in isolated mode, without the grader package on its
path. Each module uses the standard library and numpy only and binds the
functions it calls at load time, because student code shares the process.

- ``framing``: length-prefixed JSON frames over the two pipes;
- ``codec``: arguments in, student return values out, as plain tagged data;
- ``limits``: rlimits and the soft per-call timer;
- ``isolation``: the audit hook and the kernel walls raised before student code runs;
- ``session``: running cells and calls with captured output and time limits;
- ``template``: the warm template that forks one fresh child per submission;
- ``statements`` and ``confine`` (also imported by the grader): statement-level
  execution, and Landlock and seccomp through ctypes.
"""
