#!/usr/bin/env bash
# Installs the real peers the tests use: SIPp (sip-tester), Prometheus'
# promtool, headless Chromium, espeak-ng and sox. Idempotent; needs root.
set -euo pipefail
need=()
command -v sipp >/dev/null || need+=(sip-tester)
command -v promtool >/dev/null || need+=(prometheus)
command -v chromium >/dev/null || need+=(chromium)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v sox >/dev/null || need+=(sox)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# SIPp plays RTP captures (DTMF) through a raw socket.
setcap cap_net_raw+eip "$(command -v sipp)" 2>/dev/null || true
