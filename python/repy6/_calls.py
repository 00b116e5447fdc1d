"""The Repy V2 network calls, named once for the package and for the runner.

The package turns every call that `Context` has into a module-level function on the
default context; the runner puts the same calls into a Repy program's namespace, where
arguments are checked as Repy checks them. A call the C++ library does not have yet is
simply left out of both.
"""

# The kinds of argument Repy's namespace layer accepts (its Str, Int and Float): a str;
# an int (not a bool); an int or a float. Numbers must not be negative.
STR = "str"
INT = "int"
FLOAT = "float"

NETWORK_CALLS = {
    # SPEC 4: the IPv6 calls.
    "getAddripv6": (STR,),
    "getmyip_ipv6": (),
    "sendmessage_ipv6": (STR, INT, STR, STR, INT),
    "openconnection_ipv6": (STR, INT, STR, INT, FLOAT),
    "listenforconnection_ipv6": (STR, INT),
    "listenformessage_ipv6": (STR, INT),
    # SPEC 9: Repy V2's IPv4 calls.
    "gethostbyname": (STR,),
    "getmyip": (),
    "sendmessage": (STR, INT, STR, STR, INT),
    "openconnection": (STR, INT, STR, INT, FLOAT),
    "listenforconnection": (STR, INT),
    "listenformessage": (STR, INT),
}


def available(context_type):
    """The names of NETWORK_CALLS that `context_type` (repy6.Context) has."""
    return [name for name in NETWORK_CALLS if hasattr(context_type, name)]


def on_default_context(name, context_type, default_context):
    """A function that makes the call `name` on the process-wide default context."""
    method = getattr(context_type, name)

    def call(*args, **kwargs):
        return method(default_context(), *args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = "%s on the default context.\n\n%s" % (name, method.__doc__ or "")
    return call
