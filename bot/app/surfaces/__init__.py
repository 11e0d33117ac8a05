"""Slack's interactive surfaces, answered from the runtime: the Home tab, buttons, forms.

Owns `Surfaces` (handler: the `bot.surfaces.SurfaceHandler` that `briefbot
run` hands the Slack app), what each button does (buttons), the forms'
checks and work (forms) and what a person's Home tab holds (home). The rules
are the `/brief` commands' (bot/brief/, bot/config/overrides.py); the Block
Kit comes from bot/render/ (templates/home.j2, bot/render/forms.py).
"""

from bot.app.surfaces.handler import Surfaces

__all__ = ["Surfaces"]
