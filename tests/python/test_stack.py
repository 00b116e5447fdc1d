"""repy6.Stack from Python, as iothpy's Stack: getaddrinfo/getnameinfo like the socket
module's, configuration calls, and Stack.socket() giving a working socket.socket (plain,
through selectors, through asyncio), on the host and on two VDE stacks over ptp://."""

import asyncio
import errno
import selectors
import socket
import threading

import pytest

import repy6
from conftest import free_port, free_ports, vde_unavailable


def test_getaddrinfo_gives_socket_module_tuples_for_literals():
    host = repy6.Stack.host()
    ours = host.getaddrinfo("::1", 8080, socket.AF_INET6, socket.SOCK_STREAM)
    theirs = socket.getaddrinfo("::1", 8080, socket.AF_INET6, socket.SOCK_STREAM)
    assert ours == theirs
    family, kind, proto, canonname, sockaddr = ours[0]
    assert family is socket.AddressFamily.AF_INET6 and kind is socket.SocketKind.SOCK_STREAM
    assert sockaddr == ("::1", 8080, 0, 0)
    assert host.getaddrinfo("127.0.0.1", "80", socket.AF_INET, socket.SOCK_DGRAM)[0][4] == \
        ("127.0.0.1", 80)


def test_getnameinfo_takes_a_sockaddr_or_ip_and_port():
    host = repy6.Stack.host()
    numeric = socket.NI_NUMERICHOST | socket.NI_NUMERICSERV
    assert host.getnameinfo(("::1", 80), numeric) == ("::1", "80")
    assert host.getnameinfo("::1", 80, numeric) == ("::1", "80")


def test_host_configuration_reads():
    host = repy6.Stack("kernel")
    index = host.if_nametoindex("lo")
    assert index == socket.if_nametoindex("lo")
    assert host.linkgetaddr(index) == "00:00:00:00:00:00"
    with pytest.raises(repy6.NetworkError):
        host.if_nametoindex("no-such-if0")


def test_bad_stacks_are_argument_errors():
    with pytest.raises(repy6.RepyArgumentError, match="picotcp"):
        repy6.Stack("picotcp")
    # One URL or a list, as iothpy; the kernel stack takes none (checked before anything
    # is made, so no privilege is needed).
    for urls in ("ptp:///tmp/x", ["ptp:///tmp/x"], ("ptp:///tmp/x", "ptp:///tmp/y")):
        with pytest.raises(repy6.RepyArgumentError, match="vdeurls"):
            repy6.Stack("kernel", urls)
    with pytest.raises(repy6.RepyArgumentError, match="dhcp"):
        repy6.Stack("stack=vdestack,vnl=ptp:///tmp/none,dhcp")


def test_stack_socket_defaults_to_ipv6_tcp():
    with repy6.Stack.host().socket() as made:
        assert isinstance(made, socket.socket)
        assert made.family == socket.AF_INET6 and made.type == socket.SOCK_STREAM
    with repy6.Stack.host().socket(socket.AF_INET, socket.SOCK_DGRAM) as made:
        assert made.family == socket.AF_INET and made.type == socket.SOCK_DGRAM


def echo_once(listener):
    connection, _ = listener.accept()
    with connection:
        while True:
            data = connection.recv(1024)
            if not data:
                return
            connection.sendall(data)


def tcp_echo(stack, server_ip, client_ip, port, message):
    """An echo through two sockets of `stack`: what comes back."""
    with stack.socket(socket.AF_INET6, socket.SOCK_STREAM) as listener:
        listener.bind((server_ip, port))
        listener.listen(1)
        server = threading.Thread(target=echo_once, args=(listener,))
        server.start()
        with stack.socket() as client:
            client.settimeout(10)
            client.bind((client_ip, 0))
            client.connect((server_ip, port))
            client.sendall(message)
            client.shutdown(socket.SHUT_WR)
            echoed = b""
            while chunk := client.recv(1024):
                echoed += chunk
        server.join(10)
        assert not server.is_alive()
    return echoed


def test_stack_socket_echo_on_loopback():
    assert tcp_echo(repy6.Stack.host(), "::1", "::1", free_port(), b"hello") == b"hello"


def test_stack_socket_with_selectors():
    stack = repy6.Stack.host()
    with stack.socket() as listener, selectors.DefaultSelector() as selector:
        listener.bind(("::1", 0))
        listener.listen(4)
        listener.setblocking(False)
        selector.register(listener, selectors.EVENT_READ, "accept")
        client = stack.socket()
        client.connect(listener.getsockname())
        client.setblocking(False)
        selector.register(client, selectors.EVENT_WRITE, "client-write")
        echoed = b""
        while echoed != b"through selectors":
            events = selector.select(timeout=5)
            assert events, "no event within 5 s"
            for key, mask in events:
                if key.data == "accept":
                    conn, _ = listener.accept()
                    conn.setblocking(False)
                    selector.register(conn, selectors.EVENT_READ, "echo")
                elif key.data == "echo":
                    data = key.fileobj.recv(1024)
                    if data:
                        key.fileobj.sendall(data)
                elif key.data == "client-write":
                    client.sendall(b"through selectors")
                    selector.modify(client, selectors.EVENT_READ, "client-read")
                elif key.data == "client-read":
                    echoed += client.recv(1024)
        for key in list(selector.get_map().values()):
            if key.fileobj is not listener:
                selector.unregister(key.fileobj)
                key.fileobj.close()


def test_stack_socket_with_asyncio():
    stack = repy6.Stack.host()

    async def main():
        listener = stack.socket()
        listener.bind(("::1", 0))

        async def echo(reader, writer):
            writer.write(await reader.read(1024))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, sock=listener)
        client = stack.socket()
        client.setblocking(False)
        await asyncio.get_running_loop().sock_connect(client, listener.getsockname())
        reader, writer = await asyncio.open_connection(sock=client)
        writer.write(b"through asyncio")
        await writer.drain()
        echoed = await asyncio.wait_for(reader.read(1024), 5)
        writer.close()
        server.close()
        await server.wait_closed()
        return echoed

    assert asyncio.run(main()) == b"through asyncio"


def test_context_on_an_explicit_host_stack():
    server_port, client_port = free_ports(2)
    ctx = repy6.Context(repy6.Policy.unlimited(), repy6.Stack.host())
    inbox = ctx.listenformessage_ipv6("::1", server_port)
    ctx.sendmessage_ipv6("::1", server_port, b"x", "::1", client_port)
    assert inbox.wait_readable(5.0)
    assert inbox.getmessage().message == b"x"
    inbox.close()


# ---- two VDE stacks joined by a ptp:// link, as iothpy's echo example ------------------

def vde_stack(link, ip):
    """A vdestack on `link`, configured the way iothpy's examples do it."""
    stack = repy6.Stack("vdestack", "ptp://" + link)
    ifindex = stack.if_nametoindex("vde0")
    stack.linksetupdown(ifindex, 1)
    stack.ipaddr_add(repy6.AF_INET6, ip, 64, ifindex)
    return stack


@pytest.mark.skipif(vde_unavailable() is not None, reason=str(vde_unavailable()))
def test_echo_between_two_vdestacks_over_ptp(tmp_path):
    link = str(tmp_path / "link")
    server_stack = vde_stack(link, "fc00:6e::1")
    client_stack = repy6.Stack("stack=vdestack,vnl=ptp://%s,eth,ip=fc00:6e::2/64" % link)

    # The addresses exist in the stacks only, not on the host.
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as on_host:
        with pytest.raises(OSError) as refused:
            on_host.bind(("fc00:6e::1", 0))
        assert refused.value.errno == errno.EADDRNOTAVAIL

    # Plain sockets, one stack each side of the link.
    with server_stack.socket(repy6.AF_INET6, repy6.SOCK_STREAM) as listener:
        listener.bind(("fc00:6e::1", 5000))
        listener.listen(1)
        server = threading.Thread(target=echo_once, args=(listener,))
        server.start()
        with client_stack.socket(repy6.AF_INET6, repy6.SOCK_STREAM) as client:
            client.settimeout(10)
            client.connect(("fc00:6e::1", 5000))
            assert client.getpeername()[:2] == ("fc00:6e::1", 5000)
            client.sendall(b"hello over a VDE ptp:// link")
            client.shutdown(socket.SHUT_WR)
            echoed = b""
            while chunk := client.recv(1024):
                echoed += chunk
        server.join(10)
    assert echoed == b"hello over a VDE ptp:// link"

    # And the Repy calls: traffic between the stacks is charged as network traffic.
    server_ctx = repy6.Context(repy6.Policy.unlimited(), server_stack)
    client_ctx = repy6.Context(repy6.Policy.unlimited(), client_stack)
    inbox = server_ctx.listenformessage_ipv6("fc00:6e::1", 5001)
    client_ctx.sendmessage_ipv6("fc00:6e::1", 5001, b"datagram", "fc00:6e::2", 5002)
    assert inbox.wait_readable(10.0)
    assert inbox.getmessage() == ("fc00:6e::2", 5002, b"datagram")
    assert client_ctx.getresources().totals["netsend"] == 64 + 8
    assert client_ctx.getresources().totals["loopsend"] == 0
    inbox.close()


@pytest.mark.skipif(vde_unavailable() is not None, reason=str(vde_unavailable()))
def test_configuration_calls_on_a_vdestack(tmp_path):
    stack = repy6.Stack("vdestack", ["ptp://%s" % (tmp_path / "link")])
    vde0 = stack.if_nametoindex("vde0")
    stack.linksetaddr(vde0, "80:00:42:0e:e7:3a")  # iothpy takes the text ...
    assert stack.linkgetaddr(vde0) == "80:00:42:0e:e7:3a"
    stack.linksetaddr(vde0, bytes.fromhex("8000420ee73b"))  # ... or the six bytes
    assert stack.linkgetaddr(vde0) == "80:00:42:0e:e7:3b"
    with pytest.raises(repy6.RepyArgumentError):
        stack.linksetaddr(vde0, b"\x80\x00")
    stack.linksetmtu(vde0, 1400)
    stack.linksetupdown(vde0, 1)
    stack.ipaddr_add(repy6.AF_INET6, "fc00:70::1", 64, vde0)
    stack.iproute_add(repy6.AF_INET6, "fc00:70::ff")
    stack.iproute_del(repy6.AF_INET6, "fc00:70::ff")
    stack.ipaddr_del(repy6.AF_INET6, "fc00:70::1", 64, vde0)
    stack.iothconfig("iface=vde0,ip=fc00:71::5/64")
    stack.iothdns_update("nameserver fc00:71::53\n")
    with pytest.raises(repy6.NetworkError, match="nosuch0"):
        stack.iplink_del("nosuch0")
    # The address the configuration gave exists in the stack, for the Repy calls too.
    inbox = repy6.Context(repy6.Policy.unlimited(), stack).listenformessage_ipv6(
        "fc00:71::5", free_port())
    inbox.close()
    with pytest.raises(repy6.AddressBindingError):
        repy6.Context(repy6.Policy.unlimited(), stack).listenformessage_ipv6("fc00:70::1", 4000)
