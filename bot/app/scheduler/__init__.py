"""The service's clock: APScheduler 3.x jobs that poll feeds, deliver alerts and digests.

`jobs` is `BotScheduler`, which owns the one `BackgroundScheduler` and only
triggers `Runtime` methods (the work and its durability rules live in
bot/app/runtime.py); `triggers` is when each job runs (job ids, periods, and
`DigestTrigger` for digests); `describe` the start-up lines that say what is
scheduled. This is the one package that imports apscheduler; it imports
`bot.app.runtime` and the stages below it.
"""
