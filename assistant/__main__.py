"""``python -m assistant`` is the ``policyqa`` command."""

from .cli import main

raise SystemExit(main())
