"""The runner's rewrite of the Python 2 forms Repy programs use (repy6.py2compat)."""

import pytest

from repy6.py2compat import rewrite


@pytest.mark.parametrize("before, after", [
    ("try:\n  f()\nexcept E, e:\n  pass\n", "try:\n  f()\nexcept E as e:\n  pass\n"),
    ("try: f()\nexcept E,e: pass\n", "try: f()\nexcept E as e: pass\n"),
    ("try: f()\nexcept (A, B), e: pass\n", "try: f()\nexcept (A, B) as e: pass\n"),
    ("try: f()\nexcept (A, B): pass\n", "try: f()\nexcept (A, B): pass\n"),
    ("try: f()\nexcept: pass\n", "try: f()\nexcept: pass\n"),
    ("x = 10L + 0xffl\n", "x = 10 + 0xff\n"),
    ("mode = 0777\n", "mode = 0o777\n"),
    ("x = 0\n", "x = 0\n"),
    ("if d.has_key(k): pass\n", "if d.__contains__(k): pass\n"),
    ("has_key = 1\n", "has_key = 1\n"),
    ("raise ValueError, 'bad'\n", "raise ValueError( 'bad')\n"),
    ("raise E, f(a, b)  # why\n", "raise E( f(a, b))  # why\n"),
    ("raise E(a, b)\n", "raise E(a, b)\n"),
    ("raise E, v, tb\n", "raise E, v, tb\n"),
    ("raise\n", "raise\n"),
])
def test_forms_are_rewritten(before, after):
    assert rewrite(before) == after


def test_strings_and_comments_are_left_alone():
    source = ('s = "except E, e: 10L d.has_key(k)"\n'
              "# except E, e: raise E, v 0777\n"
              "t = '''\nexcept X, y:\n'''\n")
    assert rewrite(source) == source


def test_lines_keep_their_numbers():
    source = "a = 1\ntry:\n  raise E, (1,\n    2)\nexcept E, e:\n  b = 2L\n"
    result = rewrite(source)
    assert result.count("\n") == source.count("\n")
    assert result.splitlines()[4] == "except E as e:"
    compile(result, "program.r2py", "exec")


def test_print_statements_stay_python2():
    source = 'print "hello"\n'
    assert rewrite(source) == source
    with pytest.raises(SyntaxError):
        compile(rewrite(source), "program.r2py", "exec")


def test_source_that_does_not_tokenize_is_returned_unchanged():
    source = "s = '''never closed\n"
    assert rewrite(source) == source
