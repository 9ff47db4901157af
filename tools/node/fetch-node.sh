#!/usr/bin/env bash
# Prints the bin directory of a Node.js of the given major version, fetched from the npm
# registry's `node-<os>-<arch>` package (the official binary, published as an npm package) into
# `.node/<major>/` at the repository root (git-ignored). CI uses it to run on a supported Node
# whatever the machine has (`bash tools/node/fetch-node.sh 24` → `.node/24/bin`); it needs only
# npm and the registry, not nodejs.org.
#
#   export PATH="$(bash tools/node/fetch-node.sh 24):$PATH"
set -euo pipefail
major="${1:?usage: fetch-node.sh <major version, e.g. 24>}"
[[ "$major" =~ ^[0-9]+$ ]] || { echo "fetch-node.sh: '$major' is not a major version number" >&2; exit 2; }

root="$(cd "$(dirname "$0")/../.." && pwd)"
dest="$root/.node/$major"

if [ -x "$dest/bin/node" ] && [ "$("$dest/bin/node" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" = "$major" ]; then
  echo "$dest/bin"
  exit 0
fi

case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) echo "fetch-node.sh: no node-<os>-<arch> package for $(uname -s)" >&2; exit 1 ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "fetch-node.sh: no node-$os-<arch> package for $(uname -m)" >&2; exit 1 ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The highest published version of that major (npm resolves the range).
tarball="$(cd "$work" && npm pack --silent --ignore-scripts "node-$os-$arch@$major" 2>/dev/null | tail -n 1)"
[ -n "$tarball" ] && [ -f "$work/$tarball" ] || { echo "fetch-node.sh: npm pack node-$os-$arch@$major failed" >&2; exit 1; }
tar -xzf "$work/$tarball" -C "$work"
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$work/package" "$dest"
"$dest/bin/node" --version >&2
echo "$dest/bin"
