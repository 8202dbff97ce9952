#!/bin/bash
# Install everything pam_authgear needs to build, test and run its demo on
# Debian 12, as root. Safe to run again.
set -euo pipefail

NODE_MIN=18.19 # oidc-provider 8.8.1 in the test IdP: Debian 12's own nodejs (18.19, 18.20) is enough
PACKAGES=(
	# build
	autoconf automake libtool pkg-config make gcc
	libpam0g-dev libcurl4-openssl-dev libssl-dev libjansson-dev libqrencode-dev libsqlite3-dev
	# tests
	libcmocka-dev libpam-wrapper libpamtest0 libpamtest0-dev pamtester libnss-wrapper
	libuid-wrapper openssh-server openssh-client sudo expect tmux socat curl ca-certificates
	openssl valgrind zbar-tools binutils tar iproute2 util-linux passwd man-db sqlite3
	clang-format-14 # tests/test_style.sh: the version tests/style-clean.txt was made with
	# the Debian packages (dpkg-buildpackage, tests/test_deb.sh)
	dpkg-dev debhelper dh-nss lintian
	# the test IdP: Debian's own Node.js and npm
	nodejs
)

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: run as root (it installs Debian packages)" >&2
	exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Debian's npm, unless the installed node brings its own (a NodeSource nodejs
# ships /usr/bin/npm, which Debian's npm package would conflict with).
if ! command -v npm >/dev/null 2>&1; then
	missing+=(npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 update -qq
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number), [x,y]=process.argv[1].split(".").map(Number); process.exit(a>x||(a===x&&b>=y)?0:1)' "$NODE_MIN"; then
	echo "deps.sh: Node.js $(node --version) is too old: the test IdP (oidc-provider 8.8.1) needs Node.js $NODE_MIN or newer." >&2
	echo "deps.sh: install Debian 12's nodejs (apt-get install nodejs) or a newer Node.js and run again." >&2
	exit 1
fi
echo "deps.sh: all dependencies present (Node.js $(node --version))"
