#!/usr/bin/env python3
"""Write fixtures/forge/azure-devops-git-7.1-routes.txt: every (method,
route) Microsoft's Azure DevOps Git REST 7.1 description documents, one per
line, for tests/forge.rs to hold hoist's requests against. Run from the
repository with the steering folder's specs beside it:

    python3 scripts/forge-routes.py ../shared/specs/azure-devops/git-7.1.json
"""
import json
import sys

spec = json.load(open(sys.argv[1], encoding="utf-8-sig"))
lines = sorted(
    f"{method.upper()} {path}"
    for path, ops in spec["paths"].items()
    for method in ops
    if method in ("get", "put", "post", "patch", "delete")
)
with open("fixtures/forge/azure-devops-git-7.1-routes.txt", "w") as out:
    out.write(
        "# Routes documented by Azure DevOps Git REST 7.1 (git-7.1.json,\n"
        "# MicrosoftDocs/vsts-rest-api-specs, MIT); made by scripts/forge-routes.py.\n"
    )
    out.write("\n".join(lines) + "\n")
