"""repy6.Policy from Python."""

import math
import pathlib

import pytest

import repy6

SAMPLE = """\
resource netsend 1000.5   # a rate may be a fraction
resource insockets 2
resource connport 2000
resource connport 2001
resource messport 3000
call gethostbyname_ex allow
"""


def test_unlimited_allows_everything_and_names_nothing():
    policy = repy6.Policy.unlimited()
    assert policy.limit("netsend") == math.inf
    assert policy.limit("outsockets") == math.inf
    assert policy.allows_connport(1) and policy.allows_messport(65535)
    assert not policy.allows_connport(0)
    assert policy.named_resources() == []


def test_parse_reads_limits_and_ports_and_denies_the_rest():
    policy = repy6.Policy.parse(SAMPLE)
    assert policy.limit("netsend") == 1000.5
    assert policy.limit("insockets") == 2
    assert policy.limit("netrecv") == 0  # not mentioned: denied
    assert policy.allows_connport(2001) and not policy.allows_connport(3000)
    assert policy.allows_messport(3000) and not policy.allows_messport(2000)
    assert policy.named_resources() == ["netsend", "insockets", "messport", "connport"]


def test_load_takes_a_str_or_a_path(tmp_path):
    file = tmp_path / "restrictions"
    file.write_text(SAMPLE)
    for where in (str(file), file, pathlib.PurePosixPath(file)):
        assert repy6.Policy.load(where).limit("insockets") == 2


def test_load_of_a_missing_file_names_it(tmp_path):
    missing = tmp_path / "nothing-here"
    with pytest.raises(repy6.ResourceParseError, match="nothing-here"):
        repy6.Policy.load(missing)


def test_unknown_resource_in_limit_is_an_argument_error():
    with pytest.raises(repy6.RepyArgumentError, match="sockets"):
        repy6.Policy.unlimited().limit("sockets")


def test_with_socket_buffers_makes_a_policy():
    policy = repy6.Policy.parse(SAMPLE).with_socket_buffers(0, 0)
    assert isinstance(policy, repy6.Policy)
    assert policy.limit("netsend") == 1000.5
    with pytest.raises(repy6.RepyArgumentError):
        policy.with_socket_buffers(-1, 0)


def test_bad_types_are_type_errors():
    with pytest.raises(TypeError):
        repy6.Policy.parse(42)
    with pytest.raises(TypeError):
        repy6.Policy()
