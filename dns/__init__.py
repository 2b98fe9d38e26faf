"""Cluster DNS: query-name parser (`qname`), record lookup from the informer caches (`records`), and the
UDP/TCP server that answers `cluster.local` and forwards the rest upstream (`server`, `upstream`).

Run it with `python -m dns --profile P`.

Why this file touches `__path__`: the design card names this package `dns`, and so is dnspython's, which
the tests (and anyone debugging with it) import as `dns.message`, `dns.query`, `dns.resolver`. Whichever
`dns` is found first would hide the other. We append dnspython's directory to our `__path__`, so with our
package first on `sys.path` both `dns.qname` (ours) and `dns.message` (dnspython) import. The other order
works too: when dnspython's `dns` is found first (repo root not on `sys.path`), the editable install's
finder still resolves `dns.qname`/`dns.__main__` to this directory. Our module names must therefore never
collide with dnspython's (`message`, `name`, `query`, `resolver`, `wire`, `zone`, …); ours are `qname`,
`records`, `view`, `upstream`, `server`, `transport`, `testing`.
"""
from __future__ import annotations

import os as _os
import sys as _sys


def _dnspython_dirs() -> list[str]:
    here = _os.path.dirname(_os.path.abspath(__file__))
    found = []
    for entry in _sys.path:
        candidate = _os.path.abspath(_os.path.join(entry or _os.getcwd(), "dns"))
        if candidate != here and _os.path.isfile(_os.path.join(candidate, "rdatatype.py")):
            found.append(candidate)
    return found[:1]


__path__.extend(d for d in _dnspython_dirs() if d not in __path__)  # type: ignore[name-defined]  # noqa: F821

try:  # dnspython's own `dns/__init__.py` sets this; some of its callers read it
    from dns.version import version as __version__  # noqa: F401
except ImportError:  # dnspython not installed: our modules do not need it
    pass
