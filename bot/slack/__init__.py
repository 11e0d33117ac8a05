"""The Slack layer: the only package that imports slack_sdk / slack_bolt.

`client.make_web_client` builds every Web API client (base URL from
`SLACK_API_URL`, retry policy); `deliver.Deliverer` posts messages with pacing,
retries and exactly-once checks.
"""
