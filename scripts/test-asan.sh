#!/bin/bash
# The sanitizer pass (scripts/test-all.sh runs it after make check): a second
# build, out of tree from the distributed sources, with ASan + UBSan (gcc) and
# the test hooks, then the unit tests, the fuzz-corpus replays and the PAM
# tests that drive the module through pam_wrapper (SAN_TESTS below). Any
# sanitizer report fails: UBSan does not recover, ASan halts, LSan's leak
# report is an error (every test here, the PAM tests included), and each
# test's log is searched for a report besides.
#
# Run from a configured source tree (test-all.sh's). Leaves the build in
# asan-build/ (sources in asan-src/); ASAN_TESTS='tests/test_x.sh ...' picks
# the shell tests instead of SAN_TESTS.
set -euo pipefail
cd "$(dirname "$0")/.."

# The PAM tests run here: those through pam_wrapper that run the module's
# own code paths: tokens and their attack table, the security refusals, the
# device code's security cases, the module's config faults, the fault
# matrix (a full password + TOTP login, every IdP fault, the host faults),
# and test_oidc (its timeout bounds count from the request's arrival at the
# IdP, which a slow ASan start does not stretch). Not here: test_login (its
# `authgear-pam login` step preloads libnss_wrapper without the ASan
# runtime first: "ASan runtime does not come first"), test_admin (it loads
# the ASan NSS module into id(1)), test_device (RFC 8628 waits: minutes for the poll loop only,
# which test_security_device runs too), the sshd tests (sshd is not built
# with ASan and re-execs itself), test_nss_real (the ASan NSS module inside
# every system binary), test_valgrind (valgrind cannot run an ASan binary)
# and the packaging, layout and style tests, which run none of our code.
SAN_TESTS="tests/test_tokens.sh tests/test_security.sh tests/test_security_device.sh tests/test_pam_shell.sh
	tests/test_faults.sh tests/test_faults_host.sh tests/test_oidc.sh tests/test_login.sh"

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
rm -rf asan-src asan-build
make distdir distdir=asan-src >/dev/null
mkdir asan-build
cd asan-build
../asan-src/configure --enable-werror --enable-test-hooks CC=gcc CFLAGS="-g -O1 $SAN" LDFLAGS="$SAN" >/dev/null
make -j2 >/dev/null

# pamtester is not built with ASan but dlopens the module that is: the ASan
# runtime must be the first preload (tests/lib.sh puts AG_ASAN_PRELOAD first
# in PAM_PRELOAD), else ASan stops at start ("ASan runtime does not come
# first"). The module itself is not preloaded to keep its leak stacks
# readable after pam_end's dlclose: preloaded, it drags libcurl's GnuTLS and
# p11-kit in before libc's locale, and p11-kit's destructor then deadlocks
# in freelocale at exit (seen with pamtester under pam_wrapper). A leak in
# the module is still reported and fails; its frames read <unknown module>.
asan_rt=$(gcc -print-file-name=libasan.so)
[ -e "$asan_rt" ] || { echo "test-asan: libasan.so not found (gcc -print-file-name)"; exit 1; }
# libcrypt too: libasan intercepts crypt(3), and when libcrypt is not loaded
# at startup (pamtester does not link it; pam_unix brings it with dlopen)
# the interceptor calls a null pointer: pam_unix's password check died with
# SEGV at pc 0 before this.
export AG_ASAN_PRELOAD="$asan_rt libcrypt.so.1"
# Every report goes to a file under sanreports/ (log_path), also from a
# process whose stderr a test captured or whose failure it expected (a
# denied login): any file there fails the pass.
#
# intercept_tls_get_addr=0: a bug of the sanitizer runtime of GCC up to 13
# (Debian 12 has 12), not of ours. Its __tls_get_addr interceptor takes a
# dynamic TLS block whose address is 16 mod 4096 for one with a glibc 2.19
# header and reads the two words before it as that header; since glibc
# 2.25 there is none, a malloc'd block lands there by chance, and the leak
# check's tracer then reads a wild address at exit: "Tracer caught signal
# 11 ... LeakSanitizer has encountered a fatal error", after a different
# test row each time (seen at pam_driver's exit: the module, dlopened by
# libpam, and libcurl's TLS libraries use dynamic TLS). Without the
# interceptor LSan still scans the static TLS and the threads' stacks; a
# leak from our code is reported as before (seen red: a 64-byte leak in
# pam_sm_authenticate).
rm -rf sanreports && mkdir sanreports
export ASAN_OPTIONS="detect_leaks=1:intercept_tls_get_addr=0:halt_on_error=1:detect_stack_use_after_return=1:log_path=$PWD/sanreports/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$PWD/sanreports/ubsan"

unit=$(make -s print-unit-tests)
rc=0
# KEEP_TMP: each test's captured output stays in tests/tmp, searched below
# for what ASan prints to stderr before log_path applies.
KEEP_TMP=1 make -j2 check TESTS="$unit" >check.out 2>&1 || rc=$?
# The PAM tests, with leak detection like the rest (see
# intercept_tls_get_addr above).
if [ $rc -eq 0 ]; then
	KEEP_TMP=1 make -j2 check TESTS="${ASAN_TESTS:-$SAN_TESTS}" >>check.out 2>&1 || rc=$?
fi
grep -E '^(PASS|FAIL|ERROR|SKIP|XPASS):' check.out || true
if grep -rlE 'ASan runtime does not come first|(Address|Leak|UndefinedBehavior)Sanitizer|runtime error:' tests/tmp tests/*.log 2>/dev/null; then
	echo "test-asan: a sanitizer message in the files above"
	rc=1
fi
if [ -n "$(ls sanreports)" ]; then
	for f in sanreports/*; do echo "=== $f"; head -80 "$f"; done
	echo "test-asan: sanitizer reports (above; in asan-build/sanreports/)"
	rc=1
fi
if [ $rc -ne 0 ]; then
	[ -f test-suite.log ] && cat test-suite.log
	echo "test-asan: FAILED"
	exit 1
fi
if [ "${CI:-}" = true ] && grep -q '^SKIP:' check.out; then
	echo "test-asan: a test skipped under CI=true"
	exit 1
fi
echo "test-asan: no sanitizer report"
