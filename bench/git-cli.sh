#!/bin/sh
# The peer for benches/git.rs: the job `hoist apply --url` does, done the
# usual way with the git CLI — shallow single-branch clone, edit the one
# marker with sed, commit, push.
#   git-cli.sh URL WORKDIR OLD_TAG NEW_TAG
set -eu
url=$1 work=$2 old=$3 new=$4
git clone -q --depth 1 --single-branch --branch main "$url" "$work"
cd "$work"
sed -i "s/tag: $old /tag: $new /" clusters/prod/image-tags.yaml
git -c user.name=bench -c user.email=bench@example.com commit -qam "Update app0 to $new"
git push -q origin main
