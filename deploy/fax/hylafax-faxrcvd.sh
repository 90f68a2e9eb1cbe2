#!/bin/sh
# HylaFAX: hand every received fax to Hotline. Call it from
# /var/spool/hylafax/bin/faxrcvd (or use it as FaxRcvdCmd):
#   faxrcvd qfile devID commID error-msg CIDNumber CIDName destination …
# `hotline fax ingest` exits non-zero when the fax was not taken; HylaFAX
# then keeps the file in recvq/ and this script can be run again.
QFILE="$1"; COMMID="$3"; MSG="$4"; CIDNUMBER="$5"
TSI=$(/usr/sbin/faxinfo -n -c '' "$QFILE" 2>/dev/null | sed -n 's/^ *Sender: *//p')
STATUS=SUCCESS
[ -n "$MSG" ] && STATUS=FAILURE
exec hotline fax ingest "$QFILE" --from "$CIDNUMBER" --station-id "$TSI" \
  --status "$STATUS" --error "$MSG" --data /var/lib/hotline --config /etc/hotline/hotline.yaml
