#!/bin/sh
# Stop the test IdP whose state dir is DIR (TERM, then KILL after 5 s). Idempotent.
# Usage: stop.sh DIR
set -u
if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
state=$1
pidfile=$state/idp.pid
# Alive = exists and is not a zombie waiting for a reaper (its parent, start.sh, is gone).
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ "$st" != Z ]
}
[ -f "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
case $pid in
'' | *[!0-9]*) rm -f "$pidfile"; exit 0 ;;
esac
# Only signal our own node process, never a recycled pid.
if kill -0 "$pid" 2>/dev/null && grep -q server.js "/proc/$pid/cmdline" 2>/dev/null; then
	kill -TERM "$pid" 2>/dev/null
	i=0
	while alive "$pid" && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null
	fi
fi
rm -f "$pidfile" "$state/idp.env"
exit 0
