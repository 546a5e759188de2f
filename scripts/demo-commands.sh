#!/usr/bin/env bash
# demo-commands.sh - print the commands to try against the demo (`make run`).
#
#   scripts/demo-commands.sh [DNS_ADDR:PORT] [HTTP_ADDR:PORT] [MERIDIAN_BIN]
#
# Every `dig ... +short` line carries its expected answer after "# -> "
# (alternatives separated by " | "). test/e2e runs exactly these lines against
# a server started from testdata/demo/meridian.yaml, so this list and the demo
# stay in agreement.
set -euo pipefail

dns=${1:-127.0.0.1:5353}
http=${2:-127.0.0.1:8053}
bin=${3:-bin/meridian}
host=${dns%:*}
port=${dns##*:}
d="dig @$host -p $port"

cat <<EOF
Meridian demo: zone gslb.example. on $dns (UDP and TCP), HTTP on http://$http
Sites: us-east 192.0.2.x, eu-west 198.51.100.x, ap-south 203.0.113.x. Try:

  # app: nearest site to the client network (EDNS Client Subnet, else source address)
  $d app.gslb.example +subnet=81.2.69.0/24 +short          # -> 198.51.100.10
  $d app.gslb.example +subnet=8.8.8.0/24 +short            # -> 192.0.2.10
  $d app.gslb.example +subnet=202.12.27.0/24 +short        # -> 203.0.113.10
  $d app.gslb.example AAAA +subnet=2001:67c:2e8::/48 +short  # -> 2001:db8:2::10
  $d app.gslb.example +subnet=81.2.69.0/24                 # full answer: see the CLIENT-SUBNET scope

  # www: weighted 3:1 us-east:eu-west, the same /24 always gets the same site
  $d www.gslb.example +subnet=81.2.69.0/24 +short          # -> 192.0.2.20 | 198.51.100.20
  # db: priority failover, eu-west first
  $d db.gslb.example +short                                # -> 198.51.100.30
  # edge: the us-east member is a load balancer hostname, answered as a CNAME
  $d edge.gslb.example +subnet=8.8.8.0/24 +short           # -> edge-lb.us-east.example.net.
  $d edge.gslb.example +subnet=81.2.69.0/24 +short         # -> 198.51.100.40

  # the zone apex and static records
  $d gslb.example SOA +short                               # -> ns1.gslb.example. hostmaster.gslb.example. 2026112101 3600 600 1209600 60
  $d gslb.example NS +short                                # -> ns1.gslb.example.
  $d gslb.example TXT +short                               # -> "Meridian GSLB demo zone"
  $d gslb.example MX +short                                # -> 10 mail.gslb.example.
  $d nope.gslb.example                                     # NXDOMAIN, SOA in the authority section
  $d +tcp app.gslb.example +subnet=81.2.69.0/24 +short     # -> 198.51.100.10

  # why that answer?
  $bin explain app.gslb.example --type A --client 81.2.69.0/24 --server http://$http
  curl -s http://$http/metrics | grep '^meridian_'
  curl -s http://$http/readyz

EOF
