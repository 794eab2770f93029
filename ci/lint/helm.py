#!/usr/bin/env python3
"""Lint or render a Helm chart with Helm's own Go SDK, no helm binary.

    helm.py lint CHART [VALUES_JSON]
    helm.py render CHART [VALUES_JSON] [--name NAME] [--namespace NS]

Uses the `helm-python-sdk` package (PyPI), which binds Helm's Go SDK
(chart loading, values.schema.json validation, rendering, lint) through
ctypes. `render` prints the rendered YAML objects as one stream in
template order, without NOTES.txt and empty templates; `lint` prints the
findings and fails on any warning or error (`helm lint --strict`).
"""

import argparse
import json
import sys

import helm_python as helm


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["lint", "render"])
    p.add_argument("chart")
    p.add_argument("values", nargs="?", default=None, help="values as JSON")
    p.add_argument("--name", default="hoist")
    p.add_argument("--namespace", default="hoist-system")
    a = p.parse_args()
    values = json.loads(a.values) if a.values else None
    try:
        if a.mode == "lint":
            report = helm.lint(a.chart, values, strict=True, namespace=a.namespace)
            bad = [m for m in report["messages"] if m["severity"] >= 2]
            for m in report["messages"]:
                print(f'{["unknown", "info", "warning", "error"][m["severity"]]}: {m["path"]}: {m["error"]}')
            for e in report["errors"]:
                print(f"error: {e}")
            return 1 if bad or report["errors"] else 0
        with helm.Chart.load(a.chart) as chart:
            rendered = chart.render(values, name=a.name, namespace=a.namespace)
        docs = []
        for path in sorted(rendered):
            if not path.endswith((".yaml", ".yml")):
                continue
            for doc in rendered[path].split("\n---\n"):
                body = "\n".join(
                    line for line in doc.splitlines() if line.strip() and not line.lstrip().startswith("#")
                )
                if body.strip() and body.strip() != "---":
                    docs.append(f"# Source: {path}\n{doc.strip()}\n")
        sys.stdout.write("---\n".join(docs))
        return 0
    except helm.HelmError as e:
        print(f"helm: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
