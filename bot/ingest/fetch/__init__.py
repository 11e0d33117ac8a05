"""Conditional GETs of feeds within limits, behind the private-address guard (httpx lives here).

guard: resolve, check by bot.config.addresses' policy, dial the checked
address; body: capped, decoded bodies; errors: the operator's sentences;
client: the GET, redirects and concurrency.
"""
