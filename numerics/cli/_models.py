"""``memdyn models``: list the built-in models."""

from __future__ import annotations

import json


def add_parser(sub):
    p = sub.add_parser("models", help="list built-in models")
    p.add_argument("--json", action="store_true", help="print a JSON object name -> description")
    p.set_defaults(run=run)


def run(args) -> int:
    from analysis import builtin_models

    models = builtin_models()
    if args.json:
        print(json.dumps(models, indent=2))
    else:
        width = max(map(len, models))
        for name, desc in models.items():
            print(f"{name:<{width}}  {desc}")
    return 0
