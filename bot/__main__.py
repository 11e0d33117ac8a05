"""`python -m bot` is the same as the `briefbot` console script."""

from bot.cli import main

raise SystemExit(main())
