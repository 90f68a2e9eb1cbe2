#!/usr/bin/env bash
# Makes the hotline's IVR prompts for Asterisk:
#   SOUNDS/zh_CN/hotline/*.wav   Mandarin, spoken by espeak-ng (voice cmn)
#   SOUNDS/zh_CN/digits/0-9.wav  Mandarin digits, for the ticket number (digits:)
#   SOUNDS/en/hotline/*          English fallbacks: Asterisk's own sounds where
#                                one fits, else espeak-ng in English
# Asterisk plays sound:hotline/<name> in the channel's language (zh_CN, as
# hotline.yaml ari.prompts.language says) and falls back to en.
# Files are 8 kHz mono 16-bit WAV, what Asterisk's wav format reads.
#
# Usage: make-prompts.sh [SOUNDS_DIR]   (default /usr/share/asterisk/sounds)
# Needs: espeak-ng, sox (Debian packages espeak-ng and sox).
set -euo pipefail
sounds=${1:-/usr/share/asterisk/sounds}
command -v espeak-ng >/dev/null || { echo "make-prompts: espeak-ng is not installed (apt-get install espeak-ng)" >&2; exit 1; }
command -v sox >/dev/null || { echo "make-prompts: sox is not installed (apt-get install sox)" >&2; exit 1; }

zh="$sounds/zh_CN"
en="$sounds/en"
mkdir -p "$zh/hotline" "$zh/digits" "$en/hotline"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# say VOICE TEXT OUT: speak TEXT into OUT as 8 kHz mono 16-bit WAV.
say() {
  espeak-ng -v "$1" -s 150 -w "$tmp/raw.wav" "$2"
  sox -V1 "$tmp/raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$3" gain -3
}

declare -A zh_text=(
  [greeting]="您好，欢迎致电服务台。"
  [menu]="报告故障请按一，服务请求请按二，投诉请按三，人工服务请按零。"
  [invalid]="您的输入有误。"
  [ticket-number]="您的工单号是"
  [hold]="正在为您转接，请稍候。"
  [unavailable]="很抱歉，现在无人接听。我们会尽快给您回电，再见。"
)
declare -A en_text
en_text=(
  [greeting]="Welcome to the service desk."
  [menu]="For an incident, press 1. For a service request, press 2. For a complaint, press 3. For an operator, press 0."
  [invalid]="That option is invalid."
  [ticket-number]="Your ticket number is"
  [hold]="Please hold while we connect you."
  [unavailable]="Sorry, nobody can take your call now. We will call you back. Goodbye."
)
# Asterisk's own English sounds that say the same (asterisk-core-sounds-en).
declare -A en_core=(
  [greeting]=welcome
  [invalid]=option-is-invalid
  [hold]=pls-hold-while-try
  [unavailable]=all-circuits-busy-now
)
zh_digits=(零 一 二 三 四 五 六 七 八 九)

for name in "${!zh_text[@]}"; do
  say cmn "${zh_text[$name]}" "$zh/hotline/$name.wav"
done
for d in 0 1 2 3 4 5 6 7 8 9; do
  say cmn "${zh_digits[$d]}" "$zh/digits/$d.wav"
done
for name in "${!en_text[@]}"; do
  core=${en_core[$name]:-}
  found=""
  if [ -n "$core" ]; then
    for ext in wav gsm ulaw alaw sln16 g722; do
      if [ -f "$en/$core.$ext" ]; then found="$en/$core.$ext"; break; fi
    done
  fi
  rm -f "$en/hotline/$name".*
  if [ -n "$found" ]; then
    cp "$found" "$en/hotline/$name.${found##*.}"
  else
    say en-us "${en_text[$name]}" "$en/hotline/$name.wav"
  fi
done
echo "make-prompts: prompts in $zh/hotline, $zh/digits and $en/hotline"
