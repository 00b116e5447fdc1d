"""python3 -m repy6: running Repy V2 programs, their namespace, output and exit status."""

import json
import os
import time

import pytest

import repy6
from conftest import free_ports, run_repy, run_repy_ok, vde_unavailable

# Most programs need nothing but a few threads.
PLAIN = "resource events 10\n"


def test_a_program_that_ends_exits_0_and_log_adds_no_newline(repy_files):
    restrictions, program = repy_files(
        "log('a', 1, [2])\n"
        "log('b')\n"
        "log()\n"
        "log('line\\n')\n")
    out = run_repy(restrictions, program)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "a 1 [2]bline\n"
    assert out.stderr == ""


def test_a_programs_strings_are_the_bytes_of_its_file(repy_files):
    # As in Python 2: "café" written in UTF-8 is five bytes, and log() gives them back.
    restrictions, program = repy_files("s = 'caf\u00e9'\nlog(s, len(s))\n")
    out = run_repy(restrictions, program)
    assert (out.returncode, out.stdout) == (0, "caf\u00e9 5"), out.stderr


def test_callfunc_callargs_mycontext(repy_files):
    restrictions, program = repy_files(
        "if callfunc == 'initialize':\n"
        "  mycontext['n'] = len(callargs)\n"
        "  log(mycontext['n'], ','.join(callargs), type(mycontext).__name__)\n")
    out = run_repy(restrictions, program, "one", "--two", "caf\u00e9")
    assert out.stdout == "3 one,--two,caf\u00e9 dict"


def test_exitall_exits_0_at_once(repy_files):
    restrictions, program = repy_files("log('before')\nexitall()\nlog('after')\n")
    out = run_repy(restrictions, program)
    assert (out.returncode, out.stdout) == (0, "before")


def test_exitall_from_a_thread_ends_a_program_that_would_run_forever(repy_files):
    restrictions, program = repy_files(
        "def stop():\n"
        "  log('stopping')\n"
        "  exitall()\n"
        "createthread(stop)\n"
        "while True:\n"
        "  sleep(0.01)\n")
    start = time.monotonic()
    out = run_repy(restrictions, program, timeout=30)
    assert (out.returncode, out.stdout) == (0, "stopping")
    assert time.monotonic() - start < 20


def test_an_uncaught_exception_prints_a_traceback_and_exits_1(repy_files):
    restrictions, program = repy_files(
        "def inner():\n"
        "  raise ValueError('went wrong')\n"
        "log('start')\n"
        "inner()\n"
        "log('never')\n")
    out = run_repy(restrictions, program)
    assert (out.returncode, out.stdout) == (1, "start")
    assert out.stderr.startswith("Traceback (most recent call last):")
    assert "program.r2py\", line 4" in out.stderr and "program.r2py\", line 2" in out.stderr
    assert out.stderr.rstrip().endswith("ValueError: went wrong")
    assert "runner.py" not in out.stderr  # the runner's own frames are left out


def test_an_uncaught_exception_in_a_thread_ends_the_program_with_1(repy_files):
    restrictions, program = repy_files(
        "def fail():\n"
        "  raise RepyArgumentError('from a thread')\n"
        "createthread(fail)\n"
        "while True:\n"
        "  sleep(0.01)\n")
    out = run_repy(restrictions, program, timeout=30)
    assert out.returncode == 1
    assert "Traceback" in out.stderr
    assert "RepyArgumentError: from a thread" in out.stderr


def test_the_runner_waits_for_threads_after_the_top_level(repy_files):
    restrictions, program = repy_files(
        "def later():\n"
        "  sleep(0.2)\n"
        "  log('thread', getthreadname() != 'MainThread')\n"
        "createthread(later)\n"
        "log('top ')\n")
    out = run_repy(restrictions, program)
    assert (out.returncode, out.stdout) == (0, "top thread True")


def test_python2_forms_are_accepted(repy_files):
    restrictions, program = repy_files(
        "total = 0L\n"
        "for i in xrange(4):\n"
        "  total += i\n"
        "d = {'k': 1}\n"
        "try:\n"
        "  raise ValueError, 'old style'\n"
        "except ValueError, e:\n"
        "  caught = str(e)\n"
        "log(total, d.has_key('k'), d.has_key('x'), caught, 0777, 0x10L, range(3) + [9])\n")
    assert run_repy_ok(restrictions, program) == "6 True False old style 511 16 [0, 1, 2, 9]"


def test_print_statements_are_not_repy(repy_files):
    restrictions, program = repy_files('print "hello"\n')
    out = run_repy(restrictions, program)
    assert out.returncode == 1
    assert "SyntaxError" in out.stderr and out.stdout == ""


@pytest.mark.parametrize("call", [
    "sendmessage_ipv6(1, 12345, 'x', '::1', 12346)",
    "sendmessage_ipv6('::1', '12345', 'x', '::1', 12346)",
    "sendmessage_ipv6('::1', 12345, b'x', '::1', 12346)",
    "sendmessage_ipv6('::1', True, 'x', '::1', 12346)",
    "sendmessage_ipv6('::1', 12345, 'x', '::1')",
    "listenformessage_ipv6(localip='::1', localport=12345)",
    "openconnection_ipv6('::1', 12345, '::1', 12346, '5')",
    "openconnection_ipv6('::1', 12345, '::1', 12346, -1)",
    "sleep('1')",
    "createthread(42)",
    "createlock().acquire(1)",
    "getAddripv6(None)",
])
def test_a_wrong_argument_type_is_repy_argument_error(repy_files, call):
    restrictions, program = repy_files(
        "try:\n"
        "  %s\n"
        "except RepyArgumentError, e:\n"
        "  log('refused:', str(e))\n" % call)
    assert run_repy_ok(restrictions, program).startswith("refused: ")


def test_socket_methods_check_their_arguments(repy_files):
    server_port, client_port = free_ports(2)
    restrictions, program = repy_files(
        "inbox = listenformessage_ipv6('::1', %d)\n"
        "for bad in [lambda: inbox.getmessage(1), lambda: inbox.close(True)]:\n"
        "  try:\n"
        "    bad()\n"
        "  except RepyArgumentError:\n"
        "    log('refused ')\n"
        "log(inbox.close(), inbox.close())\n" % server_port,
        "resource insockets 1\nresource messport %d\n" % server_port)
    assert run_repy_ok(restrictions, program) == "refused refused True False"


def test_data_is_str_both_ways_as_latin1(repy_files):
    server_port, client_port = free_ports(2)
    restrictions, program = repy_files(
        "inbox = listenformessage_ipv6('::1', %d)\n"
        "sent = sendmessage_ipv6('::1', %d, 'caf\\xe9', '::1', %d)\n"
        "while True:\n"
        "  try:\n"
        "    ip, port, message = inbox.getmessage()\n"
        "    break\n"
        "  except SocketWouldBlockError:\n"
        "    sleep(0.01)\n"
        "log(sent, type(message).__name__, repr(message), ip, port == %d)\n"
        % (server_port, server_port, client_port, client_port),
        "resource loopsend 100000\nresource looprecv 100000\nresource insockets 1\n"
        "resource messport %d\nresource messport %d\n" % (server_port, client_port))
    # log() writes what the program has, byte for byte: read it back as Latin-1.
    assert run_repy_ok(restrictions, program, encoding="latin-1") == "4 str 'caf\xe9' ::1 True"


def test_getresources_has_repy_shape(repy_files):
    port, other = free_ports(2)
    restrictions_text = ("resource loopsend 100000\n"
                         "resource insockets 2\n"
                         "resource events 5\n"
                         "resource messport %d\n"
                         "resource connport %d\n"
                         "resource connport %d\n" % (port, port, other))
    restrictions, program = repy_files(
        "inbox = listenformessage_ipv6('::1', %d)\n"
        "limits, usage, stoptimes = getresources()\n"
        "lock = createlock()\n"
        "lock.acquire(True)\n"
        "def hold():\n"
        "  lock.acquire(True)\n"
        "createthread(hold)\n"
        "limits2, usage2, stoptimes2 = getresources()\n"
        "lock.release()\n"
        "log(repr({'limits': sorted(limits.items(), key=str),\n"
        "          'messport': sorted(limits['messport']),\n"
        "          'connport': sorted(limits['connport']),\n"
        "          'ports_are_sets': [type(limits[k]).__name__ for k in ('messport', 'connport')],\n"
        "          'used_messport': sorted(usage['messport']),\n"
        "          'insockets': usage['insockets'],\n"
        "          'events': [usage['events'], usage2['events']],\n"
        "          'memory': usage['memory'] > 1000000,\n"
        "          'threadcpu': usage['threadcpu'] >= 0,\n"
        "          'has_netsend': 'netsend' in usage,\n"
        "          'stoptimes': stoptimes}))\n" % port,
        restrictions_text)
    result = eval(run_repy_ok(restrictions, program))  # the program's own repr of plain values
    assert {name for name, _ in result["limits"]} == {"loopsend", "insockets", "events",
                                                      "messport", "connport"}
    assert dict(result["limits"])["loopsend"] == 100000
    assert result["messport"] == [port] and result["connport"] == sorted([port, other])
    assert result["ports_are_sets"] == ["set", "set"]
    assert result["used_messport"] == [port]
    assert result["insockets"] == 1
    assert result["events"] == [1, 2]
    assert result["memory"] and result["threadcpu"] and result["has_netsend"]
    assert result["stoptimes"] == []


def test_the_other_calls(repy_files):
    restrictions, program = repy_files(
        "start = getruntime()\n"
        "sleep(0.05)\n"
        "r = randombytes()\n"
        "lock = createlock()\n"
        "log(getruntime() - start >= 0.05, type(r).__name__, len(r), lock.acquire(False),\n"
        "    lock.acquire(False), getthreadname())\n"
        "lock.release()\n"
        "try:\n"
        "  lock.release()\n"
        "except LockDoubleReleaseError:\n"
        "  log(' double release')\n")
    assert run_repy_ok(restrictions, program) == "True str 1024 True False MainThread double release"


def test_namespace_has_the_calls_the_library_has(repy_files):
    names = ["getAddripv6", "getmyip_ipv6", "sendmessage_ipv6", "openconnection_ipv6",
             "listenforconnection_ipv6", "listenformessage_ipv6", "gethostbyname", "getmyip",
             "sendmessage", "openconnection", "listenforconnection", "listenformessage",
             "getresources", "log", "sleep", "getruntime", "randombytes", "createlock",
             "createthread", "getthreadname", "exitall", "RepyException", "NetworkError",
             "SocketWouldBlockError", "ResourceForbiddenError"]
    restrictions, program = repy_files(
        "log(repr([name for name in %r if name in globals()]))\n" % names)
    out = run_repy(restrictions, program)
    present = set(eval(out.stdout))
    for name in names:
        expected = hasattr(repy6.Context, name) if name in (
            "gethostbyname", "getmyip", "sendmessage", "openconnection",
            "listenforconnection", "listenformessage") else True
        assert (name in present) == expected, name


def test_the_restrictions_are_enforced(repy_files):
    allowed, other = free_ports(2)
    restrictions, program = repy_files(
        "try:\n"
        "  listenformessage_ipv6('::1', %d)\n"
        "except ResourceForbiddenError, e:\n"
        "  log('forbidden')\n" % other,
        "resource insockets 1\nresource messport %d\n" % allowed)
    out = run_repy(restrictions, program)
    assert (out.returncode, out.stdout) == (0, "forbidden"), out.stderr


def test_report_writes_the_totals(repy_files, tmp_path):
    server_port, client_port = free_ports(2)
    restrictions, program = repy_files(
        "sendmessage_ipv6('::1', %d, 'hello', '::1', %d)\n" % (server_port, client_port),
        "resource loopsend 100000\nresource messport %d\n" % client_port)
    report = tmp_path / "report.json"
    run_repy_ok(restrictions, program, report=report)
    assert json.loads(report.read_text())["totals"]["loopsend"] == 69


def test_setup_problems_exit_1_with_a_message(repy_files, tmp_path):
    restrictions, program = repy_files("log('x')\n")
    bad = tmp_path / "bad-restrictions"
    bad.write_text("resource nonsense 1\n")
    out = run_repy(bad, program)
    assert out.returncode == 1 and "nonsense" in out.stderr and out.stdout == ""
    out = run_repy(restrictions, tmp_path / "missing.r2py")
    assert out.returncode == 1 and "missing.r2py" in out.stderr
    out = run_repy(restrictions, program, stack="nosuchstack")
    assert out.returncode == 1 and "nosuchstack" in out.stderr


def test_stack_option_takes_a_stack_configuration(repy_files):
    restrictions, program = repy_files("log('on', 'kernel')\n")
    out = run_repy(restrictions, program, stack="kernel")
    assert (out.returncode, out.stdout) == (0, "on kernel"), out.stderr


def processes_naming(text):
    """The pids of processes whose command line contains `text`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as cmdline:
                if text.encode() in cmdline.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


@pytest.mark.skipif(vde_unavailable() is not None, reason=str(vde_unavailable()))
@pytest.mark.parametrize("ending, status", [("exitall()", 0), ("raise ValueError('x')", 1),
                                            ("pass", 0)])
def test_a_program_on_a_vdestack_leaves_no_process_behind(repy_files, tmp_path, ending, status):
    # A VDE stack has a helper process; an exit at once (exitall, an uncaught exception)
    # cannot tear the stack down, so the runner ends the helper itself.
    restrictions, program = repy_files(
        "def end():\n"
        "  %s\n"
        "createthread(end)\n" % ending)
    link = str(tmp_path / "link")
    out = run_repy(restrictions, program,
                   stack="stack=vdestack,vnl=ptp://%s,eth,ip=fc00:7f::1/64" % link)
    assert out.returncode == status, out.stderr
    deadline = time.monotonic() + 5
    while processes_naming(link):
        assert time.monotonic() < deadline, "left behind: %s" % processes_naming(link)
        time.sleep(0.05)
