"""repy6.Context from Python: TCP and UDP round trips on ::1 with their exact charges,
the named tuples, bytes and str, waiting, the GIL, and the default context."""

import math
import os
import subprocess
import sys
import threading
import time

import pytest

import repy6
from conftest import free_port, free_ports


def policy_for(tcp=(), udp=(), extra=""):
    """A policy with generous loopback rates and exactly these ports."""
    lines = ["resource loopsend 10000000", "resource looprecv 10000000",
             "resource insockets 4", "resource outsockets 4"]
    lines += ["resource connport %d" % port for port in tcp]
    lines += ["resource messport %d" % port for port in udp]
    return repy6.Policy.parse("\n".join(lines) + "\n" + extra)


def wait_for_message(inbox, timeout=5.0):
    assert inbox.wait_readable(timeout), "no datagram within %s s" % timeout
    return inbox.getmessage()


def test_udp_round_trip_charges_exactly():
    server_port, client_port = free_ports(2)
    ctx = repy6.Context(policy_for(udp=(server_port, client_port)))
    inbox = ctx.listenformessage_ipv6("::1", server_port)
    before = ctx.getresources().totals
    assert ctx.sendmessage_ipv6("::1", server_port, b"hello", "::1", client_port) == 5
    message = wait_for_message(inbox)
    after = ctx.getresources().totals
    assert after["loopsend"] - before["loopsend"] == 64 + 5
    assert after["looprecv"] - before["looprecv"] == 64 + 5
    assert after["netsend"] == before["netsend"] == 0

    assert isinstance(message, repy6.Message) and isinstance(message, tuple)
    assert message == ("::1", client_port, b"hello")
    assert (message.ip, message.port, message.message) == ("::1", client_port, b"hello")
    assert type(message.message) is bytes
    assert inbox.close() is True and inbox.close() is False


def test_tcp_round_trip_charges_exactly():
    server_port, client_port = free_ports(2)
    ctx = repy6.Context(policy_for(tcp=(server_port, client_port)))
    server = ctx.listenforconnection_ipv6("::1", server_port)
    client = ctx.openconnection_ipv6("::1", server_port, "::1", client_port, 5.0)
    assert server.wait_readable(5.0)
    connection = server.getconnection()
    assert isinstance(connection, repy6.Connection) and isinstance(connection, tuple)
    assert connection.ip == "::1" and connection.port == client_port
    peer = connection.socket
    assert isinstance(peer, repy6.TCPSocket)
    ip, port, same = connection
    assert (ip, port) == ("::1", client_port) and same is peer

    # open (128/64) + getconnection (64 send / 128 recv) so far
    totals = ctx.getresources().totals
    assert (totals["loopsend"], totals["looprecv"]) == (128 + 64, 64 + 128)

    assert client.send(b"ping!") == 5
    assert peer.wait_readable(5.0)
    assert peer.recv(100) == b"ping!"
    assert client.close() is True
    assert client.close() is False
    totals = ctx.getresources().totals
    # send: 64+5 send, 64 recv; recv: 64+5 recv, 64 send; close: 128 send, 64 recv
    assert totals["loopsend"] == 128 + 64 + (64 + 5) + 64 + 128
    assert totals["looprecv"] == 64 + 128 + 64 + (64 + 5) + 64
    assert peer.wait_readable(5.0)
    with pytest.raises(repy6.SocketClosedRemote):
        peer.recv(1)
    peer.close()
    server.close()
    usage = ctx.getresources().usage
    assert usage["outsockets"] == 0 and usage["insockets"] == 0


def test_str_data_goes_as_latin1_and_other_buffers_as_bytes():
    server_port, client_port = free_ports(2)
    ctx = repy6.Context(policy_for(udp=(server_port, client_port)))
    inbox = ctx.listenformessage_ipv6("::1", server_port)
    for data, expected in [("caf\xe9", b"caf\xe9"), (bytearray(b"\x00\xff"), b"\x00\xff"),
                           (memoryview(b"view"), b"view"), (b"", b"")]:
        assert ctx.sendmessage_ipv6("::1", server_port, data, "::1", client_port) == len(expected)
        assert wait_for_message(inbox).message == expected
    with pytest.raises(repy6.RepyArgumentError, match="Latin-1"):
        ctx.sendmessage_ipv6("::1", server_port, "\u20ac", "::1", client_port)
    with pytest.raises(TypeError):
        ctx.sendmessage_ipv6("::1", server_port, 12, "::1", client_port)
    with pytest.raises(TypeError):
        ctx.sendmessage_ipv6(1, server_port, b"x", "::1", client_port)
    inbox.close()


def test_wait_readable_times_out_and_polls():
    ctx = repy6.Context()
    inbox = ctx.listenformessage_ipv6("::1", free_port())
    start = time.monotonic()
    assert inbox.wait_readable(0.05) is False
    assert time.monotonic() - start >= 0.05
    assert inbox.wait_readable(0) is False
    assert inbox.wait_readable(-1.0) is False
    with pytest.raises(repy6.RepyArgumentError):
        inbox.wait_readable(math.nan)
    inbox.close()
    # A closed socket is "ready": the next call reports the close.
    assert inbox.wait_readable(None) is True


def test_wait_writable_on_a_connected_socket():
    server_port, client_port = free_ports(2)
    ctx = repy6.Context(policy_for(tcp=(server_port, client_port)))
    with ctx.listenforconnection_ipv6("::1", server_port) as server:
        with ctx.openconnection_ipv6("::1", server_port, "::1", client_port, 5.0) as client:
            assert client.wait_writable(5.0) is True
            assert client.fileno() == client.native_handle() >= 0
        assert client.native_handle() == -1  # `with` closed it


def test_getresources_reports_dicts_and_port_sets():
    tcp_port, udp_port = free_ports(2)
    ctx = repy6.Context(policy_for(tcp=(tcp_port,), udp=(udp_port,)))
    inbox = ctx.listenformessage_ipv6("::1", udp_port)
    report = ctx.getresources()
    for table in (report.limits, report.usage, report.totals):
        assert type(table) is dict and all(type(v) is float for v in table.values())
    assert report.limits["loopsend"] == 10000000 and report.limits["netsend"] == 0
    assert report.usage["insockets"] == 1
    assert report.any_port is False
    assert report.allowed_connports == {tcp_port} and report.allowed_messports == {udp_port}
    assert report.used_messports == {udp_port} and report.used_connports == set()
    inbox.close()
    assert "limits=" in repr(report)


def test_policy_refusals():
    allowed, other = free_ports(2)
    ctx = repy6.Context(policy_for(udp=(allowed,)))
    with pytest.raises(repy6.ResourceForbiddenError, match=str(other)):
        ctx.listenformessage_ipv6("::1", other)
    assert ctx.policy.allows_messport(allowed)
    assert isinstance(ctx.stack, repy6.Stack)


def test_getaddripv6_answers_literals_and_localhost_without_dns():
    ctx = repy6.Context()
    infos = ctx.getAddripv6("::1")
    assert infos and all(info.ip == "::1" and info.family == 10 for info in infos)
    assert {info.ip for info in ctx.getAddripv6("localhost")} == {"::1"}
    info = infos[0]
    assert info.astuple() == (info.family, info.socktype, info.protocol, info.canonname,
                              (info.ip, info.port, info.flowinfo, info.scope_id))
    with pytest.raises(repy6.NetworkAddressError):
        ctx.getAddripv6("nothing.invalid")


def test_two_waits_in_threads_run_at_the_same_time():
    # Each wait times out after 1 s. Holding the GIL, the second could not start before
    # the first ended (2 s in all), and the main thread could not count meanwhile.
    ctx = repy6.Context()
    inboxes = [ctx.listenformessage_ipv6("::1", port) for port in free_ports(2)]
    results = []
    threads = [threading.Thread(target=lambda s=s: results.append(s.wait_readable(1.0)))
               for s in inboxes]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    counted = 0
    while any(thread.is_alive() for thread in threads):
        counted += 1
    elapsed = time.monotonic() - start
    assert results == [False, False]
    assert 1.0 <= elapsed < 1.8
    assert counted > 1000
    for inbox in inboxes:
        inbox.close()


def test_a_rate_wait_lets_other_threads_run():
    # loopsend 10000/s: two 9 KB datagrams fill the bucket, so the third waits about
    # 0.8 s for it to drain; the main thread keeps running Python meanwhile.
    server_port, client_port = free_ports(2)
    policy = repy6.Policy.parse(
        "resource loopsend 10000\nresource looprecv 10000000\nresource insockets 1\n"
        "resource messport %d\nresource messport %d\n" % (server_port, client_port))
    ctx = repy6.Context(policy)
    inbox = ctx.listenformessage_ipv6("::1", server_port)
    window = {}

    def send_three():
        for i in range(3):
            if i == 2:
                window["start"] = time.monotonic()
            ctx.sendmessage_ipv6("::1", server_port, b"x" * 9000, "::1", client_port)
        window["end"] = time.monotonic()

    sender = threading.Thread(target=send_three)
    sender.start()
    ticks = []
    while sender.is_alive():
        ticks.append(time.monotonic())
    sender.join()
    assert window["end"] - window["start"] > 0.5, "the third send did not wait"
    inside = [t for t in ticks if window["start"] + 0.1 < t < window["end"] - 0.1]
    assert len(inside) > 100, "the main thread was stopped during the rate wait"
    inbox.close()


def test_close_from_another_thread_ends_a_wait():
    ctx = repy6.Context()
    inbox = ctx.listenformessage_ipv6("::1", free_port())
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (inbox.wait_readable(30.0), done.set()))
    waiter.start()
    inbox.close()
    assert done.wait(5.0), "close() did not end the wait"
    waiter.join()


def test_module_functions_use_the_default_context(tmp_path):
    # REPY_RESTRICTIONS is read on first use, so this runs in a fresh interpreter.
    restrictions = tmp_path / "restrictions"
    port, other = free_ports(2)
    restrictions.write_text("resource loopsend 5000\nresource looprecv 5000\n"
                            "resource insockets 1\nresource messport %d\n"
                            "resource messport %d\n" % (port, other))
    script = (
        "import repy6\n"
        "inbox = repy6.listenformessage_ipv6('::1', %d)\n"
        "repy6.sendmessage_ipv6('::1', %d, b'abc', '::1', %d)\n"
        "assert inbox.wait_readable(5.0)\n"
        "print(inbox.getmessage().message, repy6.getresources().limits['loopsend'],\n"
        "      repy6.getresources().totals['loopsend'],\n"
        "      repy6.default_context().getresources().totals['looprecv'])\n" % (port, port, other))
    env = dict(os.environ, REPY_RESTRICTIONS=str(restrictions))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["b'abc'", "5000.0", "67.0", "67.0"]


def test_module_has_exactly_the_calls_context_has():
    for name in ["getAddripv6", "getmyip_ipv6", "sendmessage_ipv6", "openconnection_ipv6",
                 "listenforconnection_ipv6", "listenformessage_ipv6"]:
        assert callable(getattr(repy6, name))
    for name in ["gethostbyname", "getmyip", "sendmessage", "openconnection",
                 "listenforconnection", "listenformessage"]:
        assert hasattr(repy6, name) == hasattr(repy6.Context, name)
    assert callable(repy6.getresources)


# ---- SPEC 8 and 9, once the library has them -------------------------------------------

@pytest.mark.skipif(not hasattr(repy6.TCPSocket, "try_recv"), reason="no try_recv yet")
def test_try_calls_answer_none_when_nothing_is_ready():
    server_port, client_port = free_ports(2)
    ctx = repy6.Context(policy_for(tcp=(server_port, client_port)))
    server = ctx.listenforconnection_ipv6("::1", server_port)
    assert server.try_getconnection() is None
    client = ctx.openconnection_ipv6("::1", server_port, "::1", client_port, 5.0)
    assert server.wait_readable(5.0)
    peer = server.try_getconnection().socket
    assert peer.try_recv(10) is None
    assert client.try_send(b"data") == 4
    assert peer.wait_readable(5.0)
    assert peer.try_recv(10) == b"data"
    for s in (client, peer, server):
        s.close()


@pytest.mark.skipif(not hasattr(repy6.Context, "openconnection"), reason="no IPv4 calls yet")
def test_ipv4_round_trip_reports_dotted_peers():
    import socket
    ports = []
    while len(ports) < 2:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    server_port, client_port = ports
    ctx = repy6.Context(policy_for(tcp=ports, udp=ports))
    server = ctx.listenforconnection("127.0.0.1", server_port)
    client = ctx.openconnection("127.0.0.1", server_port, "127.0.0.1", client_port, 5.0)
    assert server.wait_readable(5.0)
    connection = server.getconnection()
    assert (connection.ip, connection.port) == ("127.0.0.1", client_port)
    for s in (client, connection.socket, server):
        s.close()
