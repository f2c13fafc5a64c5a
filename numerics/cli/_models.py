"""``memdyn models [--json]``: list the built-in models (name and one line each)."""

from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser("models", help="list built-in models")
    p.add_argument("--json", action="store_true", help="print a JSON object name -> description")
    p.set_defaults(run=run)


def run(args) -> int:
    from analysis import builtin_models
    from numerics.report import dumps

    models = builtin_models()
    if args.json:
        print(dumps(models, indent=2))
    else:
        width = max(map(len, models))
        for name, desc in models.items():
            print(f"{name:<{width}}  {desc}")
    return 0
