"""Every `/brief` sub-command as plain Python over the Runtime, shared by Slack and the console.

One module per area, named for the sub-commands it answers: `help` (the usage
table), `search` (questions, `search`, `latest`), `subscriptions` (`subscribe`,
`subscriptions`, `unsubscribe`, `mute`, `unmute`), `feeds` (`topics`, `feeds`,
`status`, `feed ...`), `digests` (`digest`, `schedule`). `words` reads Slack's
escaped text into words; `session` is the command being answered (request,
reply, errors, admin checks, notices); `dispatch` holds `handle_command` and
the one table from first word to handler.

Each sub-command is a plain function `(session, args) -> messages`, not a
method: a handler reads top to bottom in its area's module, the table in
`dispatch` is the whole list, and adding a sub-command touches its area, that
table and `help.COMMANDS`. Dependencies run one way: `words` <- `session` <-
the area modules <- `dispatch`.

Each write is one store transaction (`runtime.store.transaction()`); changes
to feeds and schedules then call `runtime.refresh_config()` so the scheduler
sees them. Imports `bot.app.runtime` and the stages below it (brief, config,
deliver ports, find, render, models); never slack_sdk or slack_bolt.
"""
