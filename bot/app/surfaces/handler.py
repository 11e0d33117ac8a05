"""`Surfaces`: the `SurfaceHandler` of `briefbot run`, answering the Home tab, buttons and forms.

Built with the runtime and the Poster (for a user's time zone), handed to
`bot.slack.app.build_app(..., surfaces=...)`. Each button's action id picks
its function in `ACTIONS` (bot/app/surfaces/buttons.py); each form's
callback id its check and its work (bot/app/surfaces/forms.py).

Everything is the workspace's the request came from (bot/app/workspaces.py):
its subscriptions, feeds and items on the Home tab, the subscriptions its
buttons change, the schedule and feed its forms save.

Permissions are the `/brief` commands': admins (bot/app/admins.py) get
the schedule and feed forms; a form or button for admins pressed by someone
else (a crafted payload, or an admin removed since the Home tab was drawn)
is refused with the same sentence `/brief` gives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.app.admins import ADMINS_ARE, is_admin
from bot.app.runtime import Runtime
from bot.app.surfaces import buttons, forms
from bot.app.surfaces.home import build_home
from bot.app.workspaces import FromWorkspace, scope_of, workspace_of
from bot.deliver.ports import Poster, poster_for
from bot.render.forms import (
    FEED_FORM,
    SCHEDULE_FORM,
    SUBSCRIBE_FORM,
    feed_form,
    schedule_form,
    subscription_form,
)
from bot.surfaces import (
    ActionReply,
    ActionRequest,
    HomeRequest,
    SlackView,
    SubmissionCheck,
    ViewSubmission,
)

__all__ = ["ACTIONS", "Surfaces"]

log = logging.getLogger(__name__)

_Action = Callable[[buttons.Pressed], ActionReply]

#: What each button does, by its action id (the templates name these).
ACTIONS: dict[str, _Action] = {
    "subscription.mute": lambda p: buttons.set_mute(p, muted=True),
    "subscription.unmute": lambda p: buttons.set_mute(p, muted=False),
    "subscription.remove": buttons.remove,
    "item.more_like_this": buttons.more_like_this,
    "topic.subscribe": buttons.subscribe_topic,
    "digest.show_all": buttons.show_all,
}
_ADMIN_ONLY = "Only admins can do that: " + ADMINS_ARE


class Surfaces:
    """Answers the Home tab, buttons and forms from the runtime (see the module docstring)."""

    def __init__(self, runtime: Runtime, poster: Poster | None = None) -> None:
        self.runtime = runtime
        self.poster = poster

    def is_admin(self, user_id: str, request: FromWorkspace | None = None) -> bool:
        """An admin of the request's workspace (bot/app/admins.py)."""
        workspace = workspace_of(request) if request is not None else None
        return is_admin(self.runtime, user_id, self._poster(request), workspace)

    def home(self, request: HomeRequest) -> SlackView:
        return build_home(
            self.runtime,
            scope_of(self.runtime, request),
            request.user_id,
            is_admin=self.is_admin(request.user_id, request),
        )

    def action(self, request: ActionRequest) -> ActionReply:
        pressed = buttons.Pressed(
            self.runtime, request, self.is_admin(request.user_id, request), self.poster
        )
        known = ACTIONS.get(request.action_id)
        if known is not None:
            return known(pressed)
        if request.action_id == "home.new_subscription":
            return ActionReply(open_modal=self._subscription_form(request))
        if request.action_id in ("home.schedule", "home.add_feed"):
            if not pressed.is_admin:
                return pressed.reply(_ADMIN_ONLY)
            zone = self._zone(request)
            form = schedule_form(timezone=zone) if request.action_id == "home.schedule" else None
            return ActionReply(open_modal=form or feed_form())
        if request.action_id in ("subscribe.query", "subscribe.topic"):
            # A live preview: the same form, its preview line recomputed.
            preview = forms.preview(self.runtime, pressed.scope, request.values)
            return ActionReply(update_modal=self._subscription_form(request, preview=preview))
        log.info("a press of an unknown button %r by %s", request.action_id, request.user_id)
        return ActionReply()

    def check(self, submission: ViewSubmission) -> SubmissionCheck:
        scope = scope_of(self.runtime, submission)
        if submission.callback_id == SUBSCRIBE_FORM:
            return forms.check_subscription(self.runtime, scope, submission)
        if submission.callback_id in (SCHEDULE_FORM, FEED_FORM):
            if not self.is_admin(submission.user_id, submission):
                return SubmissionCheck(errors={_first_block(submission): _ADMIN_ONLY})
            if submission.callback_id == SCHEDULE_FORM:
                return forms.check_schedule(self.runtime, submission)
            return forms.check_feed(submission)
        return SubmissionCheck()

    def submit(self, submission: ViewSubmission) -> ActionReply:
        user, scope = submission.user_id, scope_of(self.runtime, submission)
        admin = self.is_admin(user, submission)
        if submission.callback_id == SUBSCRIBE_FORM:
            return forms.submit_subscription(self.runtime, scope, submission, is_admin=admin)
        if submission.callback_id == SCHEDULE_FORM and admin:
            return forms.submit_schedule(self.runtime, scope, submission)
        if submission.callback_id == FEED_FORM and admin:
            return forms.submit_feed(self.runtime, scope, submission)
        return ActionReply()

    def _subscription_form(self, request: ActionRequest, *, preview: str = "") -> SlackView:
        topics = [(t.id, t.description or t.id) for t in self.runtime.config.topics]
        scope = scope_of(self.runtime, request)
        return subscription_form(
            topics,
            timezone=self._zone(request),
            preview=preview or forms.preview(self.runtime, scope, {}),
        )

    def _poster(self, request: FromWorkspace | None) -> Poster | None:
        if self.poster is None or request is None:
            return self.poster
        return poster_for(self.poster, request.team_id, request.enterprise_id)

    def _zone(self, request: ActionRequest) -> str:
        poster = self._poster(request)
        if poster is None:
            return "UTC"
        try:
            return poster.user_timezone(request.user_id) or "UTC"
        except Exception:  # a time zone is a convenience: never fail a form for it
            log.info("could not read the time zone of %s", request.user_id)
            return "UTC"


def _first_block(submission: ViewSubmission) -> str:
    return next(iter(submission.values), "url")
