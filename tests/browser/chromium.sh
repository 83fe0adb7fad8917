#!/usr/bin/env bash
# Starts Debian's Chromium (or $CHROMIUM) with every --disable-features=...
# merged into one flag: Chromium honours only the last one, and Playwright
# adds its own list, which would drop ours (WebRtcHideLocalIpsWithMdns) or
# theirs. drive.mjs launches the browser through this script.
set -euo pipefail
features=()
args=()
for arg in "$@"; do
  case $arg in
    --disable-features=*) features+=("${arg#--disable-features=}") ;;
    *) args+=("$arg") ;;
  esac
done
if [ "${#features[@]}" -gt 0 ]; then
  merged=$(IFS=,; echo "${features[*]}")
  args+=("--disable-features=$merged")
fi
exec "${CHROMIUM:-/usr/bin/chromium}" "${args[@]}"
