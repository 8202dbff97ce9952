#!/bin/sh
# idp-install.sh [--copy] SRC DEST: make DEST a runnable copy of the test IdP
# in SRC (same directory for in-tree builds) and install its pinned node
# modules with npm ci. --copy: refresh the copy of the sources only (they
# changed, package-lock.json did not: node_modules stays). The source tree
# is never written in an out-of-tree build.
set -eu
copy_only=false
if [ "$1" = --copy ]; then
	copy_only=true
	shift
fi
src=$1
dest=$2
node_min=18.19 # oidc-provider 8.8.1; Debian 12's nodejs is 18.19 or newer

command -v node >/dev/null 2>&1 || { echo "idp-install: node not found; install Node.js >= $node_min (scripts/deps.sh does)" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "idp-install: npm not found; install npm" >&2; exit 1; }
node -e 'const [a,b]=process.versions.node.split(".").map(Number), [x,y]=process.argv[1].split(".").map(Number); process.exit(a>x||(a===x&&b>=y)?0:1)' "$node_min" || { echo "idp-install: Node.js $(node --version) is too old; the test IdP needs >= $node_min" >&2; exit 1; }

mkdir -p "$dest"
if [ "$(cd "$src" && pwd -P)" != "$(cd "$dest" && pwd -P)" ]; then
	(cd "$src" && tar cf - --exclude=node_modules --exclude=.installed --exclude=.packages .) | (cd "$dest" && tar xf -)
	chmod -R u+w "$dest"
fi
$copy_only && exit 0
cd "$dest"
npm ci --no-audit --no-fund --loglevel=error >npm-ci.log 2>&1 || { cat npm-ci.log >&2; echo "idp-install: npm ci failed in $dest" >&2; exit 1; }
rm -f npm-ci.log
