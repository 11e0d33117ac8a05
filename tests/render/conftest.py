"""The renderer most render tests use: bundled templates, the sample feeds' names."""

from __future__ import annotations

import pytest

from bot.render.renderer import Renderer
from tests.render.cases import FEED_NAMES


@pytest.fixture
def renderer() -> Renderer:
    return Renderer(feed_names=FEED_NAMES)
