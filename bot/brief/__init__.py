"""Who gets told what, and when: subscriptions, matching, digest selection, schedules;
what a chart and a monthly briefing count.

Pure stages over typed records; imports `bot.models`, `bot.config`, `bot.find`
and the store's ports.
"""
