#!/usr/bin/env bash
# Run hoist for the GitHub Action, then write the step summary and the
# outputs (changed, pull-requests, commit) from its JSON.
set -uo pipefail
cmd=${HOIST_COMMAND:-run}
read -r -a extra <<< "${HOIST_ARGS:-}"
common=()
[ -n "${HOIST_CONFIG:-}" ] && common+=(--config "$HOIST_CONFIG")
dry=()
[ "${HOIST_DRY_RUN:-false}" = true ] && dry=(--dry-run)
out=$(mktemp)
case "$cmd" in
  run) hoist run "${common[@]}" "${dry[@]}" --output json "${extra[@]}" > "$out" ;;
  plan) hoist plan "${common[@]}" --output json "${extra[@]}" > "$out" ;;
  promote) hoist promote "${common[@]}" "${dry[@]}" "${extra[@]}" > "$out" ;;
  comment) hoist comment "${common[@]}" --event "${GITHUB_EVENT_PATH:?no event file}" "${extra[@]}" > "$out" ;;
  *)
    echo "::error title=hoist::unknown command \"$cmd\" (expected run, plan, promote or comment)"
    exit 2
    ;;
esac
code=$?
hoist ci-report --format github --command "$cmd" --input "$out" --exit-code "$code" || true
# plan's exit code 3 ("changes pending") is not a failure here.
if [ "$code" -ne 0 ] && ! { [ "$cmd" = plan ] && [ "$code" -eq 3 ]; }; then
  echo "::error title=hoist $cmd::hoist exited with $code (see the log above)"
  exit "$code"
fi
