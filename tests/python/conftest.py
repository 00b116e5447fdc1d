"""What the repy6 Python tests share: free ports, running Repy programs, waiting for a
line of output with a deadline."""

import os
import pathlib
import random
import selectors
import socket
import subprocess
import sys
import time

import pytest

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = SOURCE_DIR / "examples" / "repy"


def port_is_free(port, host="::1"):
    """Whether `port` can be bound on `host` for TCP and for UDP right now."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET6, kind) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                return False
    return True


def free_port(host="::1"):
    """A port free on `host` for both TCP and UDP: the kernel picks one for TCP."""
    for _ in range(100):
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
        if port_is_free(port, host):
            return port
    raise RuntimeError("no port is free on " + host)


def free_ports(count, host="::1"):
    ports = set()
    while len(ports) < count:
        ports.add(free_port(host))
    return sorted(ports)


def free_ports_among(candidates, count):
    """`count` ports of `candidates` that are free now (the example restrictions files
    allow a fixed range), drawn at random so that parallel tests rarely want the same."""
    free = [port for port in candidates if port_is_free(port)]
    if len(free) < count:
        pytest.skip("fewer than %d of the ports %s are free" % (count, list(candidates)))
    return random.sample(free, count)


def runner_command(restrictions, program, *args, stack=None, report=None):
    command = [sys.executable, "-m", "repy6"]
    if stack is not None:
        command += ["--stack", stack]
    if report is not None:
        command += ["--report", str(report)]
    return command + [str(restrictions), str(program)] + [str(arg) for arg in args]


def run_repy(restrictions, program, *args, timeout=60, encoding="utf-8", **options):
    """Runs a Repy program to its end: the CompletedProcess, output as text."""
    return subprocess.run(runner_command(restrictions, program, *args, **options),
                          capture_output=True, encoding=encoding, timeout=timeout)


def run_repy_ok(restrictions, program, *args, **kwargs):
    """run_repy() of a program that must exit with 0 (else its stderr is the failure);
    what it printed."""
    out = run_repy(restrictions, program, *args, **kwargs)
    assert out.returncode == 0, out.stderr
    return out.stdout


class Background:
    """A Repy program running in the background; its output is read as it comes."""

    def __init__(self, command):
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
        self.out = b""

    def wait_for(self, text, timeout=20):
        """Reads the program's output until `text` appears in it; fails if the program
        ends first or `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while text.encode() not in self.out:
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail("no %r within %s s; output so far: %r" % (text, timeout, self.out))
                if selector.select(left):
                    chunk = os.read(self.process.stdout.fileno(), 65536)
                    if not chunk:
                        pytest.fail("the program ended before %r: %r; stderr: %r"
                                    % (text, self.out, self.process.stderr.read()))
                    self.out += chunk

    def finish(self, timeout=30):
        """Waits for the end: (status, all of stdout, stderr) as text."""
        rest, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, (self.out + rest).decode(), err.decode()

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


@pytest.fixture
def background():
    """Starts programs in the background; every one still running at the end is killed."""
    started = []

    def start(command):
        program = Background(command)
        started.append(program)
        return program

    yield start
    for program in started:
        program.stop()


@pytest.fixture
def repy_files(tmp_path):
    """Writes a Repy program and a restrictions file: (restrictions path, program path)."""
    def write(program_text, restrictions_text="resource events 10\n"):
        restrictions = tmp_path / "restrictions"
        restrictions.write_text(restrictions_text)
        program = tmp_path / "program.r2py"
        program.write_text(program_text, encoding="utf-8")
        return restrictions, program

    return write


def vde_unavailable():
    """Why this machine cannot make VDE stacks (None when it can); as the C++ tests'
    stack_fixtures::vde_unavailable()."""
    if os.geteuid() != 0:
        return "vdestack tests need root (user namespaces + tap)"
    try:
        os.close(os.open("/dev/net/tun", os.O_RDWR))
    except OSError as why:
        return "/dev/net/tun: %s" % why.strerror
    return None
