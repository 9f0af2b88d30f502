#!/usr/bin/env bash
# Gradescope runs this once, as root on Ubuntu 22.04, when it builds the
# autograder image; the zip is already unpacked in /autograder/source.
# Built for assignment @ASSIGNMENT@ by `python -m grader.gradescope.build`.
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SRC="$ROOT/source"
VENV="$ROOT/venv"
SANDBOX_USER="@SANDBOX_USER@"

# The image has python3 (3.10) but not always venv/ensurepip or pip. The system's
# interpreter comes first: the sandbox user must be able to run the venv's python,
# and one under a private home (pyenv in /root, mode 700) it cannot.
BASE_PYTHON="${AUTOGRADER_BASE_PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}"
if ! "$BASE_PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv python3-pip
    "$BASE_PYTHON" -m venv "$VENV"
fi
# Off Gradescope (docs/gradescope.md, section 6), AUTOGRADER_PACKAGES may name packages
# already installed (a venv's site-packages, readable by the sandbox user): the venv
# uses them, and pip, with no index, only checks that they are the pinned versions.
if [ -n "${AUTOGRADER_PACKAGES:-}" ]; then
    site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$AUTOGRADER_PACKAGES" > "$site/autograder-packages.pth"
    export PIP_NO_INDEX=1
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir \
    --prefer-binary -r "$SRC/requirements.txt"
# Compiled now, once: the image is rebuilt per assignment, not per submission.
"$VENV/bin/python" -m compileall -q "$SRC" >/dev/null

# Student code runs as this user. No home, no shell, no password, no groups.
if ! id -u "$SANDBOX_USER" >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$SANDBOX_USER"
fi

# The grader, the reference engine and the assignment are root's alone; the
# venv holds only public packages and must stay usable by the sandbox user.
chown -R root:root "$SRC"
chmod -R go-rwx "$SRC"
chmod -R a+rX "$VENV"
chmod 711 "$ROOT"

# Fails the build (visibly, on Gradescope's configure page) rather than grade
# without the separation. Its sandbox child also builds, once for every
# submission to come, the matplotlib font cache children read.
export LSTM_GRADER_CACHE="$ROOT/cache"
# Every exact test case, once, for every submission to come (see grader/warm.py).
(cd "$SRC" && "$VENV/bin/python" -s -m grader.warm @ASSIGNMENT@)
"$VENV/bin/python" -s "$SRC/grader/gradescope/launch.py" --self-check
chmod -R a+rX "$LSTM_GRADER_CACHE"
