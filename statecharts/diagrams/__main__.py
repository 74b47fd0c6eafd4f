"""``python -m statecharts.diagrams [--check] [--out DIR]`` (:func:`~statecharts.diagrams.main`)."""

from statecharts.diagrams import main

if __name__ == "__main__":  # pragma: no branch - imported only to run
    raise SystemExit(main())
