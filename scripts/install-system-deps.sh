#!/usr/bin/env bash
# Installs the Debian packages the offline corpus needs: real speech
# recordings (Asterisk prompts, Fish Fillets NG dialogues, Codec2,
# PocketSphinx and Linphone test data) and the tools that make the spoofing
# systems (sox, codec2, espeak-ng, flite).
# As root it uses apt-get; otherwise it lists what is missing and stops.
set -euo pipefail

PACKAGES=(
  sox libsox-fmt-all codec2 codec2-examples espeak-ng flite
  asterisk-core-sounds-en-wav asterisk-core-sounds-fr-wav
  asterisk-core-sounds-it-wav asterisk-core-sounds-ru-wav
  asterisk-prompt-it-menardi-wav asterisk-prompt-fr-armelle
  asterisk-prompt-es-co pocketsphinx-testdata alsa-utils
  fillets-ng-data-cs fillets-ng-data-nl linphone-common
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null \
      | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "speechbrain-asd needs these Debian packages for its corpus:" >&2
  echo "  ${missing[*]}" >&2
  echo "Install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
