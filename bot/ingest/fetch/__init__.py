"""Conditional GETs of feeds within limits, behind the private-address guard.

urls: a feed URL read and checked, redirect hops judged, URLs shown without
secrets; guard: resolve, check by bot.config.addresses' policy, dial the
checked address; wire: HTTP/1.1 on asyncio with h11, connections kept per
host; pool: how many are kept; body: capped, decoded bodies; errors: the
operator's sentences; client: the GET, redirects and concurrency.
"""
