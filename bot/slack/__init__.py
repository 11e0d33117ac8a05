"""The Slack layer: the only package that imports slack_sdk / slack_bolt / waitress.

- `client.make_web_client` builds every Web API client (base URL from
  `SLACK_API_URL`, retry policy).
- `deliver.Deliverer` posts messages with pacing, retries and exactly-once
  checks (`history` finds our own messages again; `errors` words Slack's
  refusals for an operator).
- `app.build_app` is the Bolt app answering `/brief` with a handler it is
  given, and (`surfaces`) the Home tab, buttons and forms with a
  `bot.surfaces.SurfaceHandler`; `shapes` decides what reaches Bolt; `http`
  (on the waitress server in `httpserver`) and `socketmode` are its two
  transports, `start` picks one.
- Many workspaces: `oauth` builds the Bolt app of a distributed bot (Slack's
  OAuth flow) and `WorkspaceDeliverers` (a Deliverer per workspace's token);
  `installations` are slack_sdk's stores over `bot.store.ports.InstallationVault`.

Nothing here imports `bot.app`: the app layer hands the Slack app its command
handler, and the Slack layer hands the app layer a `bot.deliver.ports.Poster`.
"""
