"""Kernel walls the sandbox child raises around itself: Landlock and seccomp.

Loaded by path in the child (standard library only, like statements.py) and
imported by isolation.py to probe what the kernel offers. Both walls are
applied after the child's start-up imports and before any student code runs;
neither can be lifted by the process that applied it, so student code that
gets past the audit hook still meets them.

Denied system calls return an error (EPERM, or ENOSYS for clone3 so that glibc
falls back to clone, whose flags seccomp can read): a student sees a Python
OSError, not a dead process.
"""
import ctypes
import ctypes.util
import errno
import os

# landlock_create_ruleset, landlock_add_rule, landlock_restrict_self: the same
# numbers on x86_64 and aarch64 (the generic syscall table).
_LANDLOCK_CREATE, _LANDLOCK_ADD, _LANDLOCK_RESTRICT = 444, 445, 446
_LANDLOCK_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

# Filesystem rights by the ABI that introduced them.
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_RIGHTS = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1,
              5: (1 << 16) - 1}
_FILE_ONLY = _EXECUTE | _WRITE_FILE | _READ_FILE | (1 << 14) | (1 << 15)
_NET_TCP = (1 << 0) | (1 << 1)           # bind, connect (ABI 4)
_SCOPES = (1 << 0) | (1 << 1)            # abstract unix sockets, signals (ABI 6)

_SCMP_ACT_ALLOW = 0x7FFF0000
_CMP_NE, _CMP_MASKED_EQ = 1, 7
_CLONE_THREAD = 0x00010000

# Calls student code has no business making, each with the error it gets.
_DENIED = (
    # new processes (threads stay possible: clone with CLONE_THREAD, below)
    "fork", "vfork", "execve", "execveat",
    # reaching other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_open", "pidfd_send_signal",
    "pidfd_getfd", "kcmp",
    # the network, and unix sockets to anything on the machine
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    # the machine itself
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
    "fsmount", "fsconfig", "fspick", "mount_setattr", "unshare", "setns", "bpf",
    "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "init_module", "finit_module", "delete_module",
    "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "acct", "quotactl",
    "syslog", "settimeofday", "clock_settime", "adjtimex", "clock_adjtime", "sethostname",
    "setdomainname", "iopl", "ioperm", "personality",
)


class ConfineError(OSError):
    pass


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def landlock_abi():
    """The kernel's Landlock ABI version, or 0 with no Landlock."""
    try:
        version = _libc().syscall(_LANDLOCK_CREATE, None, ctypes.c_size_t(0),
                                  ctypes.c_uint32(_LANDLOCK_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


_SECCOMP = []


def libseccomp():
    """libseccomp loaded through ctypes (once per process), or None."""
    if not _SECCOMP:
        _SECCOMP.append(_load_libseccomp())
    return _SECCOMP[0]


def _load_libseccomp():
    # The soname first: find_library runs ldconfig in a subprocess.
    for name in ("libseccomp.so.2", ctypes.util.find_library("seccomp")):
        try:
            lib = ctypes.CDLL(name, use_errno=True)
            break
        except (OSError, TypeError):
            continue
    else:
        return None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.restype = ctypes.c_int
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
    lib.seccomp_load.restype = ctypes.c_int
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def _errno_action(code):
    return 0x00050000 | (code & 0xFFFF)


def apply_landlock(read_paths, write_paths):
    """Allow reading (and running) under ``read_paths``, reading and writing
    under ``write_paths``, and no other file access; on ABI 4+ no TCP, on
    ABI 6+ no signals or abstract sockets out of this process's domain."""
    abi = landlock_abi()
    if abi < 1:
        raise ConfineError(errno.ENOSYS, "Landlock is not available")
    libc = _libc()
    fs_rights = _FS_RIGHTS.get(abi, _FS_RIGHTS[5])
    attr = [fs_rights]
    if abi >= 4:
        attr.append(_NET_TCP)
    if abi >= 6:
        attr.append(_SCOPES)
    buf = (ctypes.c_uint64 * len(attr))(*attr)
    ruleset = libc.syscall(_LANDLOCK_CREATE, buf, ctypes.c_size_t(ctypes.sizeof(buf)),
                           ctypes.c_uint32(0))
    if ruleset < 0:
        raise ConfineError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        read = _EXECUTE | _READ_FILE | _READ_DIR
        for paths, rights in ((read_paths, read), (write_paths, fs_rights)):
            for path in paths:
                _add_rule(libc, ruleset, path, rights)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise ConfineError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(_LANDLOCK_RESTRICT, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise ConfineError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return abi


def _add_rule(libc, ruleset, path, rights):
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a path that does not exist needs no rule
    try:
        if not os.path.isdir(path):
            rights &= _FILE_ONLY
        # struct landlock_path_beneath_attr is packed: u64 then s32.
        attr = ctypes.create_string_buffer(rights.to_bytes(8, "little") + fd.to_bytes(4, "little"))
        if libc.syscall(_LANDLOCK_ADD, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH),
                        attr, ctypes.c_uint32(0)) != 0:
            raise ConfineError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    finally:
        os.close(fd)


def apply_seccomp(my_pid):
    """Install the filter: _DENIED calls fail with EPERM, clone without
    CLONE_THREAD too, clone3 with ENOSYS, and kill/tkill/tgkill only reach
    ``my_pid``. Sets no_new_privs (libseccomp's default)."""
    lib = libseccomp()
    if lib is None:
        raise ConfineError(errno.ENOSYS, "libseccomp is not installed")
    ctx = lib.seccomp_init(_SCMP_ACT_ALLOW)
    if not ctx:
        raise ConfineError(errno.ENOMEM, "seccomp_init failed")
    eperm = _errno_action(errno.EPERM)
    try:
        def rule(name, action, *cmps):
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number < 0:
                return  # not a call on this architecture (fork on aarch64)
            args = (_ArgCmp * max(len(cmps), 1))(*[_ArgCmp(*c) for c in cmps])
            rc = lib.seccomp_rule_add_array(ctx, action, number, len(cmps), args)
            if rc != 0:
                raise ConfineError(-rc, f"seccomp rule for {name} failed")

        for name in _DENIED:
            rule(name, eperm)
        rule("clone", eperm, (0, _CMP_MASKED_EQ, _CLONE_THREAD, 0))
        rule("clone3", _errno_action(errno.ENOSYS))
        for name in ("kill", "tkill", "tgkill"):
            rule(name, eperm, (0, _CMP_NE, my_pid, 0))
        rc = lib.seccomp_load(ctx)
        if rc != 0:
            raise ConfineError(-rc, "seccomp_load failed")
    finally:
        lib.seccomp_release(ctx)


_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE = 1, 4


def set_dumpable(flag):
    """PR_SET_DUMPABLE: a process that is not dumpable cannot be ptraced, nor
    its /proc files (memory, fds, environment) read, by others of its uid."""
    if _libc().prctl(_PR_SET_DUMPABLE, int(bool(flag)), 0, 0, 0) != 0:
        raise ConfineError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")


def die_with_parent(signum):
    """Have the kernel send ``signum`` to this process when its parent dies."""
    if _libc().prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
        raise ConfineError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
