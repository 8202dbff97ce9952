#!/bin/sh
# Run by make check instead of the unit tests when configure found no cmocka:
# fail, and say what to install (the unit tests are part of every check).
echo "FAIL: the unit tests need cmocka, which configure did not find."
echo "      Install it (Debian: apt-get install libcmocka-dev), then run ./configure and make check again."
exit 1
