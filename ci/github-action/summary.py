#!/usr/bin/env python3
"""The step summary and outputs of the hoist GitHub Action.

usage: summary.py COMMAND OUTPUT_FILE EXIT_CODE
Reads hoist's JSON (run, plan) or text (promote, comment) output and
appends Markdown to $GITHUB_STEP_SUMMARY and key=value lines to
$GITHUB_OUTPUT.
"""
import json, os, sys

PR_ACTIONS = {"opened", "updated", "unchanged", "awaiting-review", "merged", "auto-merge"}


def main():
    cmd, path, code = sys.argv[1], sys.argv[2], int(sys.argv[3])
    text = open(path, encoding="utf-8", errors="replace").read()
    md = [f"## hoist {cmd}", ""]
    changed, pulls, commit = False, {}, ""
    try:
        data = json.loads(text) if cmd in ("run", "plan") and text.strip() else None
    except json.JSONDecodeError:
        data = None
    if cmd == "plan" and data is not None:
        s = data.get("summary", {})
        changed = s.get("changes", 0) > 0
        md.append(f"{s.get('changes', 0)} change(s) in {s.get('files', 0)} file(s); "
                  f"{s.get('errors', 0)} error(s), {s.get('warnings', 0)} warning(s).")
        md += ["", "| file | marker | old | new |", "|---|---|---|---|"]
        for f in data.get("files", []):
            for o in f.get("objects", []):
                for c in o.get("changes", []):
                    md.append(f"| `{f['file']}`:{c['line']} | `{c['setter']}` | `{c['old']}` | `{c['new']}` |")
    elif cmd == "run" and data is not None and "environments" in data:
        md += ["| environment | outcome | pull requests and statuses |", "|---|---|---|"]
        for e in data["environments"]:
            env, outcome = e.get("environment", ""), e.get("outcome", "")
            if outcome.startswith("pushed"):
                changed = True
                commit = e.get("commit", commit)
            notes = []
            for a in e.get("forge", []):
                kind = a.get("action", "")
                if kind in PR_ACTIONS and "number" in a:
                    key = (env, a["number"])
                    pulls[key] = {"environment": env, "number": a["number"],
                                  "url": a.get("url", pulls.get(key, {}).get("url", "")), "action": kind}
                    if kind in ("opened", "updated", "merged"):
                        changed = True
                    notes.append(f"#{a['number']} {kind}")
                elif kind == "status":
                    notes.append(f"status `{a.get('context', '')}`")
            md.append(f"| {env} | {outcome} | {', '.join(notes)} |")
    elif cmd == "run" and data is not None and data.get("dry_run"):
        md += ["Dry run: nothing was written.", "", "| environment | changes | promotions |", "|---|---|---|"]
        for r in data.get("rungs", []):
            n = sum(len(o.get("changes", [])) for f in r.get("files", []) for o in f.get("objects", []))
            changed = changed or n > 0
            promos = ", ".join(f"{p['image']}: {p['from_tag']} → {p['to_tag']}" for p in r.get("promotions", []))
            md.append(f"| {r.get('rung', '')} | {n} | {promos} |")
    else:
        body = text.strip()
        changed = cmd == "promote" and code == 0 and bool(body)
        md += ["```", body[:60000], "```"] if body else ["(no output)"]
    if code not in (0, 3):
        md += ["", f"**hoist exited with {code}**: see the job log."]
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write("\n".join(md) + "\n")
    out = os.environ.get("GITHUB_OUTPUT")
    if out:
        with open(out, "a", encoding="utf-8") as f:
            f.write(f"changed={'true' if changed else 'false'}\n")
            f.write(f"pull-requests={json.dumps(list(pulls.values()), separators=(',', ':'))}\n")
            f.write(f"commit={commit}\n")


if __name__ == "__main__":
    main()
