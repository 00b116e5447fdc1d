"""The Python 2 forms Repy programs use, rewritten so that Python 3 runs them.

The rewrite works on tokens (the `tokenize` module), so strings and comments are never
touched, and it edits the text in place, within lines: line numbers stay those of the
program's file, and a traceback shows the program's own lines.

Rewritten:
  except E, e:          -> except E as e:
  raise E, message      -> raise E(message)
  10L, 0xffL            -> 10, 0xff
  0777                  -> 0o777
  d.has_key(k)          -> d.__contains__(k)
`xrange`, `long` and `unicode` need no rewrite: the runner's namespace defines them.
Anything else stays as written, `print` statements included (they are not Repy).
"""

import io
import tokenize
from tokenize import NAME, NEWLINE, NUMBER, OP

_OPENING = "([{"
_CLOSING = ")]}"


def rewrite(source):
    """`source` with its Python 2 forms rewritten; unchanged when it does not tokenize
    (the compiler then reports the error where it is)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source
    edits = []  # (start, end, text): replace the text between two (row, col) positions
    for i, token in enumerate(tokens):
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if token.type == NAME and token.string == "except":
            comma = _top_level_commas(tokens, i + 1, stop=":")
            if len(comma) == 1:
                after = tokens[tokens.index(comma[0]) + 1]
                spaced = after.start != comma[0].end  # "E, e" or "E,e"
                edits.append((comma[0].start, comma[0].end, " as" if spaced else " as "))
        elif token.type == NAME and token.string == "raise":
            comma = _top_level_commas(tokens, i + 1)
            # The three-argument form (with a traceback) has no Python 3 spelling.
            if len(comma) == 1:
                last = _last_of_statement(tokens, i + 1)
                edits.append((comma[0].start, comma[0].end, "("))
                edits.append((last.end, last.end, ")"))
        elif token.type == NUMBER and following is not None and following.start == token.end:
            if following.type == NAME and following.string in ("L", "l"):
                edits.append((following.start, following.end, ""))
            elif following.type == NUMBER and token.string == "0" and following.string.isdigit():
                edits.append((token.start, token.end, "0o"))
        elif (token.type == OP and token.string == "." and following is not None
              and following.type == NAME and following.string == "has_key"
              and i + 2 < len(tokens) and tokens[i + 2].string == "("):
            edits.append((following.start, following.end, "__contains__"))
    return _apply(source, edits)


def _statement_tokens(tokens, start):
    """The tokens from `start` to the end of that logical line, with bracket depth."""
    depth = 0
    for token in tokens[start:]:
        if token.type in (NEWLINE, tokenize.ENDMARKER):
            return
        if token.type == OP and token.string in _CLOSING:
            depth -= 1
        yield token, depth
        if token.type == OP and token.string in _OPENING:
            depth += 1


def _top_level_commas(tokens, start, stop=None):
    """The commas outside brackets from `start` to the end of the statement, or to the
    first `stop` operator outside brackets."""
    commas = []
    for token, depth in _statement_tokens(tokens, start):
        if depth == 0 and token.type == OP:
            if token.string == stop:
                break
            if token.string == ",":
                commas.append(token)
    return commas


def _last_of_statement(tokens, start):
    """The last token of the statement that is code (not a comment or line break)."""
    last = None
    for token, _ in _statement_tokens(tokens, start):
        if token.type not in (tokenize.COMMENT, tokenize.NL):
            last = token
    return last


def _apply(source, edits):
    lines = source.splitlines(keepends=True)
    # From the end backwards, so that each edit's positions are still those tokenize gave.
    for (row, col), (end_row, end_col), text in sorted(edits, reverse=True):
        assert row == end_row, "edits stay within one line"
        line = lines[row - 1]
        lines[row - 1] = line[:col] + text + line[end_col:]
    return "".join(lines)
