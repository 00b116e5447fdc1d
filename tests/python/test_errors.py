"""Repy's exception hierarchy in Python, and the translation of repy6's C++ errors."""

import socket

import pytest

import repy6
from conftest import free_port

# Name -> parent, as include/repy/errors.hpp and SPEC 2 have them.
HIERARCHY = {
    "RepyException": None,
    "RepyArgumentError": "RepyException",
    "TimeoutError": "RepyException",
    "CodeUnsafeError": "RepyException",
    "ContextUnsafeError": "RepyException",
    "ResourceParseError": "RepyException",
    "ResourceUsageError": "RepyException",
    "ResourceExhaustedError": "ResourceUsageError",
    "ResourceForbiddenError": "ResourceUsageError",
    "FileError": "RepyException",
    "FileNotFoundError": "FileError",
    "FileInUseError": "FileError",
    "SeekPastEndOfFileError": "FileError",
    "FileClosedError": "FileError",
    "LockDoubleReleaseError": "RepyException",
    "NetworkError": "RepyException",
    "NetworkAddressError": "NetworkError",
    "AlreadyListeningError": "NetworkError",
    "DuplicateTupleError": "NetworkError",
    "CleanupInProgressError": "NetworkError",
    "InternetConnectivityError": "NetworkError",
    "AddressBindingError": "NetworkError",
    "ConnectionRefusedError": "NetworkError",
    "LocalIPChanged": "NetworkError",
    "SocketClosedLocal": "NetworkError",
    "SocketClosedRemote": "NetworkError",
    "SocketWouldBlockError": "NetworkError",
    "TCPServerSocketInvalidError": "NetworkError",
}


@pytest.mark.parametrize("name", sorted(HIERARCHY))
def test_class_has_its_repy_parent(name):
    cls = getattr(repy6, name)
    parent = HIERARCHY[name]
    expected = Exception if parent is None else getattr(repy6, parent)
    assert cls.__bases__ == (expected,)
    assert issubclass(cls, repy6.RepyException)
    assert cls.__module__ == "repy6"
    assert cls.__name__ == name


def test_no_other_repy_exception_classes():
    found = {name for name, value in vars(repy6).items()
             if isinstance(value, type) and issubclass(value, repy6.RepyException)}
    assert found == set(HIERARCHY)


def test_repy_names_are_not_the_builtins():
    # Repy's TimeoutError and ConnectionRefusedError are its own, as in Repy.
    assert repy6.TimeoutError is not TimeoutError
    assert not issubclass(repy6.ConnectionRefusedError, OSError)


def test_argument_error_keeps_the_message():
    with pytest.raises(repy6.RepyArgumentError) as caught:
        repy6.Context().listenformessage_ipv6("::1", 0)
    assert type(caught.value) is repy6.RepyArgumentError
    assert "localport" in str(caught.value)


def test_parse_error_names_the_line():
    with pytest.raises(repy6.ResourceParseError, match="line 2.*bogus"):
        repy6.Policy.parse("resource netsend 1\nresource bogus 1\n")


def test_most_derived_class_is_raised():
    ctx = repy6.Context(repy6.Policy.parse("resource messport 5000\n"))  # no insockets
    with pytest.raises(repy6.ResourceExhaustedError) as caught:
        ctx.listenformessage_ipv6("::1", 5000)
    assert type(caught.value) is repy6.ResourceExhaustedError
    assert isinstance(caught.value, repy6.ResourceUsageError)


def test_forbidden_port_is_a_resource_usage_error():
    ctx = repy6.Context(repy6.Policy.parse("resource insockets 1\n"))
    with pytest.raises(repy6.ResourceUsageError) as caught:
        ctx.listenformessage_ipv6("::1", 5000)
    assert type(caught.value) is repy6.ResourceForbiddenError


def test_network_errors_translate_from_a_real_failure():
    # A bound socket that does not listen refuses connections.
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as bound:
        bound.bind(("::1", 0))
        port = bound.getsockname()[1]
        with pytest.raises(repy6.NetworkError) as caught:
            repy6.Context().openconnection_ipv6("::1", port, "::1", free_port(), 5.0)
    assert type(caught.value) is repy6.ConnectionRefusedError
    assert str(caught.value)


def test_would_block_is_a_network_error():
    inbox = repy6.Context().listenformessage_ipv6("::1", free_port())
    with pytest.raises(repy6.SocketWouldBlockError, match="getmessage"):
        inbox.getmessage()
    inbox.close()
    with pytest.raises(repy6.SocketClosedLocal):
        inbox.getmessage()
