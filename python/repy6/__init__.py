"""repy6 for Python: the Repy V2 network API on a chosen network stack.

    import repy6
    ctx = repy6.Context(repy6.Policy.parse("resource messport 12345\\n..."))
    inbox = ctx.listenformessage_ipv6("::1", 12345)

`Policy`, `Stack` (iothpy's face: `Stack("vdestack", url)`, `stack.socket()`),
`Context` and its socket classes, the Repy exception classes (all deriving from
`RepyException`), and the Repy calls as module-level functions on the default context
(see `default_context`). Data is bytes; a str argument is sent as Latin-1.

`python3 -m repy6 RESTRICTIONS PROGRAM [ARGS...]` runs a Repy V2 program.
"""

# iothpy's module carries these for Stack.socket(); so does this one.
from socket import AF_INET, AF_INET6, SOCK_DGRAM, SOCK_STREAM  # noqa: F401

from . import _calls, _repy6
from ._repy6 import *  # noqa: F401,F403 (the classes, exceptions and default_context)

__version__ = _repy6.__version__

for _name in _calls.available(_repy6.Context) + ["getresources"]:
    globals()[_name] = _calls.on_default_context(_name, _repy6.Context, _repy6.default_context)
del _name
