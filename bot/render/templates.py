"""Where templates come from, the Jinja2 environment they run in, and where their errors are.

The operator's `templates_dir` is searched first, then the bundled templates
(the repository's templates/ folder, which bot/templates links to); an
override is re-read when its file changes.

Escaping is enforced here, not remembered in templates
(https://api.slack.com/reference/surfaces/formatting#escaping): the
Environment's `finalize` hook escapes `&`, `<` and `>` in every value a template
prints unless a trusted helper made it (`link`, `bold`, `code`, `date`,
`plural`, the block helpers). Autoescape is on as well so that macros and call
blocks hand their already-escaped output on as Markup; the `safe`, `urlize` and
`xmlattr` filters are removed.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import jinja2

from bot.render.mrkdwn import escape_slack

__all__ = ["BUNDLED_TEMPLATES", "TEMPLATE_NAMES", "Templates"]

TEMPLATE_NAMES: Final = (
    "digest.j2",
    "alert.j2",
    "search.j2",
    "help.j2",
    "feed_status.j2",
    "home.j2",
    "notice.j2",
    "deadlines.j2",
    "month.j2",
    "answer.j2",
    "reminder.j2",
)
BUNDLED_TEMPLATES: Final = Path(__file__).parents[1] / "templates"


class Templates:
    """The templates one Renderer uses: the operator's over the bundled, and the bundled alone."""

    def __init__(self, templates_dir: str | None, helpers: Mapping[str, Any]) -> None:
        self.templates_dir = templates_dir
        bundled = jinja2.FileSystemLoader(str(BUNDLED_TEMPLATES))
        loaders: list[jinja2.BaseLoader] = [bundled]
        if templates_dir:
            loaders.insert(0, jinja2.FileSystemLoader(templates_dir))
        self._env = _environment(jinja2.ChoiceLoader(loaders), helpers)
        self._bundled_env = _environment(bundled, helpers)

    def compile(self, name: str) -> None:
        """Load `name` (the override if there is one); raises jinja2.TemplateError."""
        self._env.get_template(name)

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """`name` rendered: the operator's template if there is one, else the bundled one."""
        return self._env.get_template(name).render(context)

    def render_bundled(self, name: str, context: Mapping[str, Any]) -> str:
        """`name` rendered from the bundled templates, whatever templates_dir holds."""
        return self._bundled_env.get_template(name).render(context)

    def path_of(self, name: str) -> str:
        folder = Path(str(self.templates_dir)) if self._overridden(name) else BUNDLED_TEMPLATES
        return display_path(str(folder / name))

    def describe(self, error: BaseException, name: str) -> str:
        """`path:line: message` for a template error, from the template frames of its traceback."""
        if isinstance(error, jinja2.TemplateSyntaxError):
            return f"{display_path(error.filename or name)}:{error.lineno}: {error.message}"
        frames = [
            frame
            for frame in traceback.extract_tb(error.__traceback__)
            if frame.filename.endswith((".j2", ".jinja", ".html", ".txt"))
        ]
        message = str(error) or type(error).__name__
        if frames:
            return f"{display_path(frames[-1].filename)}:{frames[-1].lineno}: {message}"
        return f"{self.path_of(name)}: {message}"

    def _overridden(self, name: str) -> bool:
        return bool(self.templates_dir) and (Path(str(self.templates_dir)) / name).is_file()


def _environment(loader: jinja2.BaseLoader, helpers: Mapping[str, Any]) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        finalize=escape_slack,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=True,
    )
    for unsafe in ("safe", "urlize", "xmlattr"):
        env.filters.pop(unsafe, None)
    env.globals.update(helpers)
    return env


def display_path(filename: str) -> str:
    """A template path as a person would type it: relative to the working directory if inside it."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith("..") else relative
