"""Entry point of the sandbox child, staged as child.py:

    python -I child.py READ_FD WRITE_FD      one child, speaking over two pipes
    python -I child.py --template SOCKET_FD  the warm template (template.py)

It loads its sibling modules by path and serves the grader's requests (run a
cell, list functions, call one) in plain data until the grader goes away.
Isolated mode gives it no access to the grader package on purpose: anything
imported from there would be one more thing student code could reach.
"""
# Bound as module globals so that student code replacing builtins cannot
# change what the protocol code does.
from builtins import BaseException, int, len  # noqa: A004
import os
import sys
import types

_HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name):
    """A sibling module loaded by path and registered as ``_sandbox_<name>``,
    the name its siblings import it by: sys.path holds neither this folder
    (isolated mode) nor, after lock_down, the grader."""
    key = "_sandbox_" + name
    module = sys.modules.get(key)
    if module is None:
        path = os.path.join(_HERE, name + ".py")
        module = types.ModuleType(key)
        module.__file__ = path
        with open(path, encoding="utf-8") as fh:
            code = compile(fh.read(), path, "exec", dont_inherit=True)
        sys.modules[key] = module
        exec(code, module.__dict__)
    return module


# In dependency order: each module imports only those loaded before it.
statements = _load("statements")
confine = _load("confine")
framing = _load("framing")
codec = _load("codec")
limits = _load("limits")
isolation = _load("isolation")
session = _load("session")
template = _load("template")
_ENCODER = framing.ENCODER


def serve(rfd, wfd):
    """One submission from start to end: limits, walls, then requests. Never returns."""
    channel = framing.Channel(rfd, wfd)
    cfg = channel.recv()
    cfg["fds"] = [rfd, wfd]  # the audit hook keeps student code off them
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    isolation.lock_down(cfg)
    session._seed(cfg["seed"])
    session._np_seed(cfg["seed"])
    box = session.Session(cfg)
    channel.send({"hello": os.getpid()})
    while True:
        req = channel.recv()
        op, rid = req["op"], req["id"]
        try:
            if op == "run":
                channel.send(dict(box.run(req), id=rid))
            elif op == "functions":
                channel.send(dict(box.functions(req), id=rid))
            elif op == "call":
                for reply in box.calls(req):
                    reply["id"] = rid
                    text = _ENCODER.encode(reply)
                    if len(text) > cfg["frame_bytes"] - 16:  # the encoder's budget is an estimate
                        text = _ENCODER.encode(dict(
                            reply, status="bad-return", value=None, output="", after=None,
                            message="returned a value too large to grade"))
                    channel.send(None, text)
            else:
                break
        except BaseException as exc:  # noqa: B036 - sabotage or a bug: say so, keep serving
            channel.send({"id": rid, "status": "crash",
                          "message": session._describe(exc, "failed with"), "fatal": True})
    os._exit(0)


def main():
    args = sys.argv[1:]
    sys.argv = [""]  # as in a notebook kernel, and one less pointer to the channel
    if args[0] == "--template":
        template.serve(int(args[1]), serve)
    else:
        serve(int(args[0]), int(args[1]))


if __name__ == "__main__":
    main()
