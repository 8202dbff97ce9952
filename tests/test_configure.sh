#!/bin/sh
# configure as a new admin runs it: the default install directories are the
# ones this system's libpam and glibc load modules from, and a missing cmocka
# (needed only by make check) does not stop configure; make check then fails
# with a line naming the package. Runs configure in a copy of the configure
# inputs, so the tree under test stays as it is.
. "$abs_top_srcdir/tests/lib.sh"
command -v ldconfig >/dev/null || [ -x /sbin/ldconfig ] || skip "ldconfig missing"
command -v pkg-config >/dev/null || skip "pkg-config missing"
new_tmpdir

S="$T/src"
mkdir -p "$S/src" "$S/tests"
for f in configure.ac aclocal.m4 m4 Makefile.am configure Makefile.in config.h.in build-aux; do
	cp -pR "$abs_top_srcdir/$f" "$S/" || fail "no $f in the source tree (run autogen.sh)"
done
cp "$abs_top_srcdir/src/pam_authgear.c" "$S/src/"
cp "$abs_top_srcdir/tests/test_no_cmocka.sh" "$S/tests/"

# Where the loader finds libpam.so.0 and libc.so.6 (ldconfig's cache): what
# the defaults must be, found another way than configure's.
LDCONFIG=$(command -v ldconfig || echo /sbin/ldconfig)
libpam=$("$LDCONFIG" -p | awk '/libpam\.so\.0 .*x86-64|libpam\.so\.0 / {print $NF; exit}')
libc=$("$LDCONFIG" -p | awk '/libc\.so\.6 / {print $NF; exit}')
[ -n "$libpam" ] && [ -n "$libc" ] || skip "ldconfig -p lists no libpam.so.0 or libc.so.6"
want_pam=$(dirname "$(readlink -f "$libpam")")/security
want_nss=$(dirname "$(readlink -f "$libc")")
[ -f "$want_pam/pam_unix.so" ] || skip "no pam_unix.so in $want_pam"

# 1. Plain ./configure: the system's directories, cmocka found.
(cd "$S" && ./configure > "$T/configure.out" 2>&1) || { tail -30 "$T/configure.out"; fail "plain ./configure failed"; }
assert_contains "$T/configure.out" "pam_authgear.so will be installed in $want_pam" "configure says where the PAM module goes"
grep -qx "pamdir = $want_pam" "$S/Makefile" || fail "pamdir is not $want_pam: $(grep '^pamdir' "$S/Makefile")"
pass "default pamdir is where libpam loads modules ($want_pam)"
grep -qx "nssdir = $want_nss" "$S/Makefile" || fail "nssdir is not $want_nss: $(grep '^nssdir' "$S/Makefile")"
pass "default nssdir is the directory of libc.so.6 ($want_nss)"
if pkg-config --exists cmocka; then
	assert_contains "$T/configure.out" "unit tests (cmocka): yes" "cmocka found"
fi

# 2. An explicit --with-pam-dir / --with-nss-dir wins.
(cd "$S" && ./configure --with-pam-dir=/opt/x/security --with-nss-dir=/opt/x > "$T/configure2.out" 2>&1) ||
	fail "configure with explicit directories failed"
grep -qx "pamdir = /opt/x/security" "$S/Makefile" && grep -qx "nssdir = /opt/x" "$S/Makefile" ||
	fail "explicit directories ignored"
pass "--with-pam-dir and --with-nss-dir override the defaults"

# 3. Without cmocka (a pkg-config directory with every .pc file but cmocka's):
#    configure succeeds and warns; make check runs the failing stand-in.
mkdir "$T/pc"
for d in $(pkg-config --variable pc_path pkg-config | tr ':' ' '); do
	[ -d "$d" ] || continue
	for pc in "$d"/*.pc; do
		[ -f "$pc" ] || continue
		case $(basename "$pc") in cmocka.pc) ;; *) [ -e "$T/pc/$(basename "$pc")" ] || ln -s "$pc" "$T/pc/" ;; esac
	done
done
(cd "$S" && env PKG_CONFIG_LIBDIR="$T/pc" PKG_CONFIG_PATH= ./configure > "$T/nocmocka.out" 2>&1) ||
	{ tail -20 "$T/nocmocka.out"; fail "configure fails without cmocka"; }
pass "configure succeeds without cmocka"
assert_contains "$T/nocmocka.out" "cmocka missing (Debian: libcmocka-dev)" "configure names the missing package"
assert_contains "$T/nocmocka.out" "unit tests (cmocka): no" "the summary says the unit tests are off"
(cd "$S" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u TESTS make -s -f Makefile -f - print-tests <<'MK'
print-tests:
	@echo $(TESTS)
MK
) > "$T/tests.list" 2>&1 || { cat "$T/tests.list"; fail "cannot list TESTS"; }
assert_contains "$T/tests.list" "tests/test_no_cmocka.sh" "make check runs the stand-in without cmocka"
assert_not_contains "$T/tests.list" "tests/unit/test_config" "make check does not try to build the cmocka tests"
set +e
sh "$S/tests/test_no_cmocka.sh" > "$T/stand-in.out"; rc=$?
set -e
[ $rc -ne 0 ] && [ $rc -ne 77 ] || fail "the stand-in exits $rc: it must fail, not pass or skip"
assert_contains "$T/stand-in.out" "libcmocka-dev" "the stand-in says what to install"
