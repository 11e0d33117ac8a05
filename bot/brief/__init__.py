"""Who gets told what, and when: subscriptions, matching, digest selection, schedules.

Pure stages over typed records; imports `bot.models`, `bot.config`, `bot.find`
and the store's ports.
"""
