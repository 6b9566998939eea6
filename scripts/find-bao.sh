#!/usr/bin/env bash
# Prints the path of the `bao` (OpenBao) binary to run, and says on stderr
# which one it is and why: $BAO_BIN, as given; else `bao` on PATH when it is
# v2.6 or later; else .bin/bao, unpacked from ../shared/bin after its sum is
# checked. Exits 3 when there is none of these (scripts/find-server.sh says
# how).
exec bash "$(dirname "$0")/find-server.sh" bao
