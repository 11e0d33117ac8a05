"""Exactly-once delivery of alerts, digests, monthly briefings and notices, through a typed
`Poster` (which also shares files: charts).

Owns the delivery bookkeeping: alerts recorded in flight before a post and
finished after, a digest's cursor moved only once Slack has all of it, a
digest cut short finished in its thread, ops notices given once per outage.
No Slack call is made while holding a lock that commands, searches or polls
need: each destination has its own lock (`locks.py`). Imports `bot.models`,
`bot.store.ports`, `bot.brief` and `bot.render`; the Slack layer implements
`ports.Poster`.
"""
