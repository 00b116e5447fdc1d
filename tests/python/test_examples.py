"""The Repy programs of examples/repy, end to end through the runner: a server in the
background (waited for by its "listening" line), then clients; their output, exit
status and exact charges (from --report)."""

import json
import re

import pytest

from conftest import EXAMPLES, free_ports_among, runner_command, run_repy, vde_unavailable

# The ports the example restrictions files allow.
EXAMPLE_PORTS = range(12345, 12355)


def totals(path):
    return json.loads(path.read_text())["totals"]


def test_tcp_echo_pair(background, tmp_path):
    restrictions = EXAMPLES / "tcp_echo.restrictions"
    port, first, second = free_ports_among(EXAMPLE_PORTS, 3)
    server_report, client_report = tmp_path / "server.json", tmp_path / "client.json"
    server = background(runner_command(restrictions, EXAMPLES / "tcp_echo_server.r2py",
                                       "::1", port, 2, report=server_report))
    server.wait_for("listening on [::1]:%d\n" % port)

    message = "hello from a Repy program"
    client = run_repy(restrictions, EXAMPLES / "tcp_echo_client.r2py", "::1", port, "::1",
                      first, *message.split(), report=client_report)
    assert client.returncode == 0, client.stderr
    lines = client.stdout.splitlines()
    assert lines[0] == "connected [::1]:%d -> [::1]:%d" % (first, port)
    assert lines[1] == "echo: " + message
    recvs, sends = map(int, re.fullmatch(r"(\d+) recv, (\d+) send", lines[2]).groups())
    n = len(message)
    # open 128/64; each send 64+bytes / 64; each recv 64 / 64+bytes; close 128/64
    assert totals(client_report)["loopsend"] == 128 + 64 * sends + n + 64 * recvs + 128
    assert totals(client_report)["looprecv"] == 64 + 64 * sends + 64 * recvs + n + 64
    assert totals(client_report)["netsend"] == 0

    again = run_repy(restrictions, EXAMPLES / "tcp_echo_client.r2py", "::1", port, "::1",
                     second, "again")
    assert again.returncode == 0 and "echo: again" in again.stdout, again.stderr

    status, out, err = server.finish()
    assert status == 0, err
    assert "client [::1]:%d\n" % first in out and "client [::1]:%d done\n" % second in out
    summary = re.search(r"served 2 client\(s\): (\d+) recv, (\d+) send, (\d+) bytes in, "
                        r"(\d+) bytes out", out)
    assert summary, out
    recvs, sends, bytes_in, bytes_out = map(int, summary.groups())
    assert bytes_in == bytes_out == n + len("again")
    # per client: getconnection 64/128 and close 128/64; per call as above
    assert totals(server_report)["loopsend"] == 2 * (64 + 128) + 64 * recvs + 64 * sends + bytes_out
    assert totals(server_report)["looprecv"] == 2 * (128 + 64) + 64 * recvs + bytes_in + 64 * sends


def test_udp_echo_pair(background, tmp_path):
    restrictions = EXAMPLES / "udp_echo.restrictions"
    port, client_port = free_ports_among(EXAMPLE_PORTS, 2)
    server_report, client_report = tmp_path / "server.json", tmp_path / "client.json"
    server = background(runner_command(restrictions, EXAMPLES / "udp_echo_server.r2py",
                                       "::1", port, report=server_report))
    server.wait_for("listening on [::1]:%d\n" % port)

    client = run_repy(restrictions, EXAMPLES / "udp_echo_client.r2py", "::1", port, "::1",
                      client_port, "one", "datagram", report=client_report)
    assert client.returncode == 0, client.stderr
    assert client.stdout == ("sent 12 bytes to [::1]:%d\n"
                             "echo: one datagram (from [::1]:%d)\n" % (port, port))
    status, out, err = server.finish()
    assert status == 0, err
    assert out == ("listening on [::1]:%d\n"
                   "message from [::1]:%d: one datagram\n"
                   "echoed 1 message(s)\n" % (port, client_port))
    # One datagram each way: 64 + 12 bytes, sent by one side, received by the other.
    for report in (server_report, client_report):
        assert totals(report)["loopsend"] == 64 + 12
        assert totals(report)["looprecv"] == 64 + 12


@pytest.mark.skipif(vde_unavailable() is not None, reason=str(vde_unavailable()))
def test_tcp_echo_pair_on_two_vdestacks(background, tmp_path):
    # Each program makes its own VDE stack, both plugged into one ptp:// link: the
    # traffic is network traffic (netsend/netrecv), not loopback.
    restrictions = EXAMPLES / "tcp_echo.restrictions"
    link = "ptp://%s" % (tmp_path / "link")
    server_report, client_report = tmp_path / "server.json", tmp_path / "client.json"
    server = background(runner_command(
        restrictions, EXAMPLES / "tcp_echo_server.r2py", "fc00:7e::1", 12345,
        stack="stack=vdestack,vnl=%s,eth,ip=fc00:7e::1/64" % link, report=server_report))
    server.wait_for("listening on [fc00:7e::1]:12345\n")
    client = run_repy(restrictions, EXAMPLES / "tcp_echo_client.r2py", "fc00:7e::1", 12345,
                      "fc00:7e::2", 12346, "over", "vde",
                      stack="stack=vdestack,vnl=%s,eth,ip=fc00:7e::2/64" % link,
                      report=client_report)
    assert client.returncode == 0, client.stderr
    assert "echo: over vde\n" in client.stdout
    status, out, err = server.finish()
    assert status == 0, err
    assert "client [fc00:7e::2]:12346 done" in out
    for report in (server_report, client_report):
        assert totals(report)["loopsend"] == totals(report)["looprecv"] == 0
        assert totals(report)["netsend"] > 0 and totals(report)["netrecv"] > 0
