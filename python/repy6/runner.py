"""python3 -m repy6 [--stack CONFIG] RESTRICTIONS PROGRAM [ARGS...]

Runs a Repy V2 program (.r2py, Repy's Python 2 dialect) under Python 3 on repy6: one
Context with the restrictions file's policy, on the host's stack or the one --stack
describes, and the Repy namespace of repyapi.py.

How a program ends, as in Repy:
- its top level returns: the runner waits for the threads it made, then exits 0;
- exitall(), from any thread: exits 0 at once;
- an exception nobody caught, in any thread: its traceback goes to standard error and
  the runner exits 1 at once.
"""

import argparse
import codecs
import json
import os
import signal
import sys
import threading
import time
import traceback

from . import _repy6, py2compat, repyapi

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class Program:
    """One running Repy program: its context, its threads, and how it exits."""

    def __init__(self, context, policy, report_path, own_stack):
        self.context = context
        self.policy = policy
        self.started = time.monotonic()
        # log() writes bytes (see repyapi); tracebacks go to sys.stderr as text.
        self.stdout = sys.stdout.buffer
        self._report_path = report_path
        self._own_stack = own_stack
        self._lock = threading.Lock()
        self._threads = set()
        self._made = 0
        self._main_running = True
        self._exiting = threading.Lock()

    # ---- threads (Repy's "events": the initial one and those createthread made)

    def live_threads(self):
        with self._lock:
            return len(self._threads) + (1 if self._main_running else 0)

    def start_thread(self, function):
        def run():
            try:
                function()
            except SystemExit as stop:
                self.exit(_exit_status(stop))
            except BaseException as uncaught:  # Repy ends the whole program
                self.exit(1, uncaught)
            finally:
                with self._lock:
                    self._threads.discard(thread)

        with self._lock:
            self._made += 1
            # Daemon threads: the runner itself waits for them (wait_for_threads), and
            # an exit must never wait for one.
            thread = threading.Thread(target=run, name="_EVENT:Thread:%d" % self._made,
                                      daemon=True)
            self._threads.add(thread)
        thread.start()

    def wait_for_threads(self):
        """After the top level returned: until every thread made has ended."""
        with self._lock:
            self._main_running = False
        while True:
            with self._lock:
                threads = list(self._threads)
            if not threads:
                return
            for thread in threads:
                thread.join()

    # ---- ending

    def exit(self, status, uncaught=None):
        """Ends the process at once with `status`, from any thread; the first call wins
        and any later one waits for the end. `uncaught`: an exception to report first."""
        self._exiting.acquire()
        try:
            if uncaught is not None:
                _print_uncaught(uncaught)
            self.write_report()
        except BaseException as problem:  # the exit happens all the same
            print("python3 -m repy6: %s" % problem, file=sys.stderr)
            status = status or 1
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            if self._own_stack:
                _end_children()
            os._exit(status)

    def write_report(self):
        """--report FILE: the context's limits, usage and totals as JSON."""
        if not self._report_path:
            return
        report = self.context.getresources()
        with open(self._report_path, "w") as out:
            json.dump({"limits": report.limits, "usage": report.usage,
                       "totals": report.totals}, out, indent=1, sort_keys=True)


def _exit_status(stop):
    """The status Python's SystemExit(code) would give."""
    if stop.code is None:
        return 0
    if isinstance(stop.code, int):
        return stop.code
    print(stop.code, file=sys.stderr)
    return 1


def _internal(frame):
    return os.path.dirname(os.path.abspath(frame.filename)) == _PACKAGE_DIR


def _print_uncaught(uncaught):
    """The traceback of an exception the program did not catch, without the runner's
    own frames (Repy shows the program's)."""
    report = traceback.TracebackException.from_exception(uncaught)
    seen, pending = set(), [report]
    while pending:
        part = pending.pop()
        if id(part) in seen:
            continue
        seen.add(id(part))
        part.stack = traceback.StackSummary.from_list(
            [frame for frame in part.stack if not _internal(frame)])
        pending.extend(p for p in (part.__cause__, part.__context__) if p is not None)
    sys.stderr.write("".join(report.format()))


def _end_children():
    """A VDE stack keeps a helper process that does not notice its parent's end; when
    the process ends without tearing its stack down, the helpers go with it."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return
    for task in tasks:
        try:
            with open("/proc/self/task/%s/children" % task) as listing:
                children = listing.read().split()
        except OSError:
            continue
        for child in children:
            try:
                os.kill(int(child), signal.SIGKILL)
            except OSError:
                pass


def _read_program(path):
    """The program's text, one character a byte of the file. A Repy program is Python 2,
    whose string literals are the bytes written in the file ("caf\xc3\xa9" for "café"
    in UTF-8): read as Latin-1 they stay those bytes, go out on the network as those
    bytes and come out of log() as those bytes, as they would in Repy."""
    with open(path, "rb") as source:
        data = source.read()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    return data.decode("latin-1")


def _arguments(argv):
    parser = argparse.ArgumentParser(
        prog="python3 -m repy6",
        description="Runs a Repy V2 program (.r2py) under Python 3 on repy6, with the "
                    "restrictions of RESTRICTIONS (Repy's resource file syntax).")
    parser.add_argument("--stack", metavar="CONFIG",
                        help="the network stack, as repy6.Stack's one-string form: "
                             "'kernel' (the default) or e.g. "
                             "'stack=vdestack,vnl=ptp:///tmp/link,eth,ip=fc00::1/64'")
    parser.add_argument("--report", metavar="FILE",
                        help="at exit, write the context's limits, usage and totals "
                             "(everything ever charged) to FILE as JSON")
    parser.add_argument("restrictions", metavar="RESTRICTIONS")
    parser.add_argument("program", metavar="PROGRAM")
    parser.add_argument("args", metavar="ARGS", nargs=argparse.REMAINDER,
                        help="the program's callargs")
    return parser.parse_args(argv)


def main(argv=None):
    options = _arguments(argv)
    try:
        policy = _repy6.Policy.load(options.restrictions)
        stack = _repy6.Stack(options.stack) if options.stack else _repy6.Stack.host()
        source = _read_program(options.program)
    except (_repy6.RepyException, OSError) as problem:
        print("python3 -m repy6: %s" % problem, file=sys.stderr)
        return 1
    program = Program(_repy6.Context(policy, stack), policy, options.report,
                      own_stack=options.stack is not None)
    # Arguments are bytes too, like the program's own strings (see _read_program).
    callargs = [os.fsencode(arg).decode("latin-1") for arg in options.args]
    names = repyapi.namespace(program, callargs)
    try:
        code = compile(py2compat.rewrite(source), options.program, "exec", dont_inherit=True)
        exec(code, names)
    except SystemExit as stop:
        program.exit(_exit_status(stop))
    except BaseException as uncaught:  # Repy ends the whole program
        program.exit(1, uncaught)
    program.wait_for_threads()
    program.write_report()
    # Returning, not os._exit: the interpreter's ending destroys the context and its
    # stack, so a VDE stack is torn down properly.
    return 0
