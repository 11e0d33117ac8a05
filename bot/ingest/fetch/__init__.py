"""Conditional GETs of feeds within limits, behind the private-address guard (httpx lives here).

guard: resolve, check by bot.config.addresses' policy, dial the checked
address; pool: the connections kept per host; body: capped, decoded bodies;
errors: the operator's sentences; client: the GET, redirects and concurrency.

httpx is imported without `httpx._main`, its command-line client, which
`import httpx` loads when it can: click, pygments and rich, 40 ms of every
`briefbot poll`, for a program the bot never runs. Marking it absent makes
httpx install the stub it uses when those are not installed.
"""

import sys

if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
