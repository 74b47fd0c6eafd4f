"""``python -m statecharts.diagrams [--check] [--out DIR]``: see :func:`~.files.main`."""

from statecharts.diagrams.files import main

if __name__ == "__main__":  # pragma: no branch - imported only to run
    raise SystemExit(main())
