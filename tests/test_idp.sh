#!/bin/sh
# The test IdP's own tests (node's test runner): every endpoint, error reason
# and fault mode checked against the protocol reference's examples.
. "$abs_top_srcdir/tests/lib.sh"
[ -d "$IDP_DIR/node_modules" ] || fail "test IdP not installed in $IDP_DIR (make check installs it)"
cd "$IDP_DIR"
exec timeout 600 node --test --test-concurrency=2 test/
