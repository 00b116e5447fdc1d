"""The Repy V2 namespace a program runs in (SPEC 10).

What a Repy program sees: the network calls (those of repy6._calls.NETWORK_CALLS that the
library has), getresources, log, sleep, getruntime, randombytes, createlock,
createthread, getthreadname, exitall, callfunc, callargs, mycontext and Repy's exception
classes. Arguments are checked as Repy's namespace layer checks them (a wrong type is
RepyArgumentError, keyword arguments are refused), and data is str, as in Repy: a str
goes to repy6 as Latin-1 bytes and bytes come back as str the same way.

This is Repy's API, not its sandbox: the program runs with Python's usual builtins, and
only the network and the resources of the restrictions file are policed.
"""

import builtins
import os
import reprlib
import threading
import time

from . import _calls, _repy6

BOOL = "bool"
FUNCTION = "function"

# Repy's exception classes, as the extension defines them.
_EXCEPTIONS = {name: value for name, value in vars(_repy6).items()
               if isinstance(value, type) and issubclass(value, _repy6.RepyException)}


# ---- argument checks --------------------------------------------------------------

def _kind_allows(kind, value):
    # `type(...) is` as in Repy: a bool is not an int there, nor a str subclass a str.
    if kind == _calls.STR:
        return type(value) is str
    if kind == _calls.INT:
        return type(value) is int
    if kind == _calls.FLOAT:
        return type(value) in (int, float)
    if kind == BOOL:
        return type(value) is bool
    if kind == FUNCTION:
        return callable(value)
    raise AssertionError("unknown argument kind %r" % kind)


def _check_arguments(name, kinds, args, kwargs):
    if kwargs:
        raise _repy6.RepyArgumentError("%s: keyword arguments are not allowed" % name)
    if len(args) != len(kinds):
        raise _repy6.RepyArgumentError(
            "%s takes %d argument(s), not %d" % (name, len(kinds), len(args)))
    for position, (kind, value) in enumerate(zip(kinds, args), start=1):
        if not _kind_allows(kind, value):
            raise _repy6.RepyArgumentError("%s: argument %d must be of type %s, not %s (%s)"
                                           % (name, position, kind, type(value).__name__,
                                              reprlib.repr(value)))
        if kind in (_calls.INT, _calls.FLOAT) and value < 0:
            raise _repy6.RepyArgumentError(
                "%s: argument %d must not be negative, not %s"
                % (name, position, reprlib.repr(value)))


def _checked(name, kinds, function):
    """`function` behind Repy's checks, its result turned into what Repy returns."""
    def call(*args, **kwargs):
        _check_arguments(name, kinds, args, kwargs)
        return _to_repy(function(*args))

    call.__name__ = call.__qualname__ = name
    return call


# ---- results --------------------------------------------------------------------------

class _Wrapped:
    """A repy6 object seen from a Repy program: only the methods Repy documents."""

    __slots__ = ("_inner",)

    def __init__(self, inner):
        self._inner = inner

    def __repr__(self):
        return "<%s>" % type(self).__name__


def _method(name, *kinds):
    def method(self, *args, **kwargs):
        _check_arguments(name, kinds, args, kwargs)
        return _to_repy(getattr(self._inner, name)(*args))

    method.__name__ = method.__qualname__ = name
    return method


class TCPSocket(_Wrapped):
    __slots__ = ()
    recv = _method("recv", _calls.INT)
    send = _method("send", _calls.STR)
    close = _method("close")


class TCPServerSocket(_Wrapped):
    __slots__ = ()
    getconnection = _method("getconnection")
    close = _method("close")


class UDPServerSocket(_Wrapped):
    __slots__ = ()
    getmessage = _method("getmessage")
    close = _method("close")


_WRAPPERS = {
    _repy6.TCPSocket: TCPSocket,
    _repy6.TCPServerSocket: TCPServerSocket,
    _repy6.UDPServerSocket: UDPServerSocket,
}


def _to_repy(value):
    """What Repy returns for a repy6 result: str for bytes, plain tuples, wrapped sockets."""
    if type(value) is bytes:
        return value.decode("latin-1")
    if type(value) in _WRAPPERS:
        return _WRAPPERS[type(value)](value)
    if isinstance(value, _repy6.AddrInfo):
        return value.astuple()
    if isinstance(value, list):  # getAddripv6's AddrInfo
        return [_to_repy(item) for item in value]
    if isinstance(value, tuple):  # Connection, Message: plain tuples in Repy
        return tuple(_to_repy(item) for item in value)
    return value


# ---- locks ----------------------------------------------------------------------------

class _Lock:
    __slots__ = ("_lock",)

    def __init__(self):
        self._lock = threading.Lock()

    def acquire(self, *args, **kwargs):
        _check_arguments("acquire", (BOOL,), args, kwargs)
        return self._lock.acquire(args[0])

    def release(self, *args, **kwargs):
        _check_arguments("release", (), args, kwargs)
        try:
            self._lock.release()
        except RuntimeError:
            raise _repy6.LockDoubleReleaseError("release: the lock is not held") from None

    def __repr__(self):
        return "<lock>"


# ---- resources ------------------------------------------------------------------------

def _resident_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def getresources_of(program):
    """Repy's (limits, usage, stoptimes) for the program's context."""
    report = program.context.getresources()
    limits = {}
    for name in program.policy.named_resources():
        if name == "connport":
            limits[name] = set(report.allowed_connports)
        elif name == "messport":
            limits[name] = set(report.allowed_messports)
        else:
            limits[name] = report.limits[name]
    usage = dict(report.usage)
    usage["connport"] = set(report.used_connports)
    usage["messport"] = set(report.used_messports)
    usage["threadcpu"] = time.thread_time()
    usage["memory"] = _resident_bytes()
    usage["events"] = program.live_threads()
    # Repy lists the times it stopped the program for using too much CPU; repy6 meters
    # no CPU, so it never stops one.
    return limits, usage, []


# ---- the namespace --------------------------------------------------------------------

def namespace(program, callargs):
    """The globals a Repy program runs with. `program` (runner.Program) owns the context,
    the threads and the exit."""
    log_lock = threading.Lock()

    def log(*args):
        text = " ".join(str(arg) for arg in args)
        # A Repy str is bytes, one character each (the program's text and its data are
        # read that way), so it goes out byte for byte. Text beyond Latin-1, which only
        # the program's own \u escapes can make, goes out as UTF-8.
        try:
            data = text.encode("latin-1")
        except UnicodeEncodeError:
            data = text.encode("utf-8")
        with log_lock:
            program.stdout.write(data)
            program.stdout.flush()

    def sleep(seconds):
        time.sleep(seconds)

    def getruntime():
        return time.monotonic() - program.started

    def randombytes():
        return os.urandom(1024).decode("latin-1")

    def createthread(function):
        program.start_thread(function)

    def getthreadname():
        return threading.current_thread().name

    def exitall():
        program.exit(0)

    def getresources():
        return getresources_of(program)

    api = {
        "log": (None, log),  # any arguments
        "sleep": ((_calls.FLOAT,), sleep),
        "getruntime": ((), getruntime),
        "randombytes": ((), randombytes),
        "createlock": ((), _Lock),
        "createthread": ((FUNCTION,), createthread),
        "getthreadname": ((), getthreadname),
        "exitall": ((), exitall),
        "getresources": ((), getresources),
    }
    for name in _calls.available(type(program.context)):
        api[name] = (_calls.NETWORK_CALLS[name], getattr(program.context, name))

    names = {
        "__name__": "__main__",
        "callfunc": "initialize",
        "callargs": list(callargs),
        "mycontext": {},
        # Python 2 names Repy programs use.
        "xrange": builtins.range,
        "range": lambda *args: list(builtins.range(*args)),
        "long": int,
        "unicode": str,
    }
    for name, (kinds, function) in api.items():
        names[name] = function if kinds is None else _checked(name, kinds, function)
    names.update(_EXCEPTIONS)
    return names
