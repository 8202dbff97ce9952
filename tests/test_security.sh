#!/bin/bash
. "$abs_top_srcdir/tests/lib.sh"
skip "placeholder"
