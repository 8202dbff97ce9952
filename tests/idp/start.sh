#!/bin/sh
# Start a pam_authgear test IdP in the background and wait until it is ready.
# Usage: start.sh --state DIR [--port N] [--hook-port N] [--users FILE] [--device] [--no-rate-limits] [--alg ALG]
# Prints ISSUER=, CA_FILE=, HOOK_URL=, PID= lines (also written to DIR/idp.env). Log: DIR/idp.log.
set -u
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd) || exit 1
state=
prev=
for a in "$@"; do
	[ "$prev" = "--state" ] && state=$a
	prev=$a
done
if [ -z "$state" ]; then
	echo "usage: $0 --state DIR [--port N] [--hook-port N] [--users FILE] [--device] [--no-rate-limits] [--alg ALG]" >&2
	exit 2
fi
node=${NODE:-node}
if ! command -v "$node" >/dev/null 2>&1; then
	echo "test IdP: node not found (Node.js >= 18.19 is required: Debian 12's nodejs)" >&2
	exit 1
fi
if ! "$node" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>18||(a===18&&b>=19)?0:1)'; then
	echo "test IdP: Node.js $("$node" --version) is too old; oidc-provider 8.8.1 needs >= 18.19.0" >&2
	exit 1
fi
if [ ! -d "$here/node_modules/oidc-provider" ]; then
	echo "test IdP: node_modules is missing: run npm ci in $here" >&2
	exit 1
fi
mkdir -p "$state" && chmod 700 "$state" || exit 1
state=$(cd "$state" && pwd)
if [ -f "$state/idp.pid" ]; then
	old=$(cat "$state/idp.pid")
	if [ -n "$old" ] && kill -0 "$old" 2>/dev/null && grep -q server.js "/proc/$old/cmdline" 2>/dev/null; then
		echo "test IdP: already running with pid $old on $state (stop it with stop.sh $state)" >&2
		exit 1
	fi
fi
rm -f "$state/idp.env" "$state/idp.pid"


nohup "$node" "$here/server.js" "$@" >>"$state/idp.log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$state/idp.pid"
i=0
while [ $i -lt 200 ]; do
	if [ -f "$state/idp.env" ]; then
		cat "$state/idp.env"
		exit 0
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
echo "test IdP: failed to start (pid $pid); last lines of $state/idp.log:" >&2
tail -n 20 "$state/idp.log" >&2
kill -9 "$pid" 2>/dev/null
rm -f "$state/idp.pid"
exit 1
