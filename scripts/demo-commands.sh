#!/usr/bin/env bash
# demo-commands.sh - print the commands to try against the demo (`make run`).
#
#   scripts/demo-commands.sh [DNS_ADDR:PORT] [HTTP_ADDR:PORT] [MERIDIAN_BIN] [BACKEND_PORT] [TOKEN_FILE]
#
# Every `dig ... +short` line carries its expected answer after "# -> "
# (alternatives separated by " | "). test/e2e runs exactly these lines against
# a server started from testdata/demo/meridian.yaml, so this list and the demo
# stay in agreement. Below "Failover walk-through" every command line is run,
# in order; "# ~> ANSWER" there is the answer once the health checks have seen
# the change (the test polls for it), "# -> ANSWER" the answer at once.
#
# BACKEND_PORT is the port of the demo backends (`meridian demo-backends` on
# 127.10.{1,2,3}.1, default 8080); TOKEN_FILE the admin API's bearer token.
set -euo pipefail

dns=${1:-127.0.0.1:5353}
http=${2:-127.0.0.1:8053}
bin=${3:-bin/meridian}
bport=${4:-8080}
token=${5:-testdata/demo/admin-token}
host=${dns%:*}
port=${dns##*:}
d="dig @$host -p $port"
eu=127.10.2.1:$bport
auth="-H \"Authorization: Bearer \$(cat $token)\""

cat <<EOF
Meridian demo: zone gslb.example. on $dns (UDP and TCP), HTTP on http://$http
Status page (live map, answer share, services, explain): http://$http/
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
  curl -s "http://$http/api/v1/health?service=app.gslb.example"   # probes: state, since, last error

Failover walk-through: every member is probed at its site's demo backend
(us-east 127.10.1.1:$bport, eu-west $eu, ap-south 127.10.3.1:$bport; interval 1s,
rise 2, fall 2). "# ~>" is the answer once the probes have noticed (about 2 s).

  # 1. eu-west fails its health check (/healthz answers 503) ...
  curl -s --fail-with-body -X POST http://$eu/fail
  # ... so London goes to the next nearest site, and db to its priority 2 member, with TTL 5
  $d app.gslb.example +subnet=81.2.69.0/24 +short          # ~> 192.0.2.10
  $d db.gslb.example +short                                # ~> 192.0.2.30
  $bin explain app.gslb.example --client 81.2.69.0/24 --server http://$http   # eu-west: down, and why
  curl -s --fail-with-body "http://$http/api/v1/health?state=down"

  # 2. eu-west recovers: back after 2 good probes
  curl -s --fail-with-body -X POST http://$eu/recover
  $d app.gslb.example +subnet=81.2.69.0/24 +short          # ~> 198.51.100.10
  $d db.gslb.example +short                                # ~> 198.51.100.30

  # 3. an operator drains eu-west through the admin API: effective at once
  curl -s --fail-with-body -X PUT $auth -d '{"mode":"drain"}' http://$http/api/v1/admin/sites/eu-west
  $d app.gslb.example +subnet=81.2.69.0/24 +short          # -> 192.0.2.10
  curl -s --fail-with-body -X DELETE $auth http://$http/api/v1/admin/sites/eu-west
  $d app.gslb.example +subnet=81.2.69.0/24 +short          # -> 198.51.100.10

  # 4. eu-west reports itself overloaded (X-Load 0.95, above shop's high
  #    watermark 0.9): London's new queries go to the next nearest site
  $d shop.gslb.example +subnet=81.2.69.0/24 +short         # -> 198.51.100.50
  curl -s --fail-with-body -X POST "http://$eu/load?value=0.95"
  $d shop.gslb.example +subnet=81.2.69.0/24 +short         # ~> 192.0.2.50
  $bin explain shop.gslb.example --client 81.2.69.0/24 --server http://$http   # eu-west: shed, load 0.95 from the probe
  curl -s --fail-with-body "http://$http/api/v1/load?service=shop.gslb.example"
  # 0.7 is under high but above low (0.6): still shed (hysteresis)
  curl -s --fail-with-body -X POST "http://$eu/load?value=0.7"
  sleep 2                                                  # two probes read it
  $d shop.gslb.example +subnet=81.2.69.0/24 +short         # -> 192.0.2.50
  # below low: back
  curl -s --fail-with-body -X POST "http://$eu/load?value=0.3"
  $d shop.gslb.example +subnet=81.2.69.0/24 +short         # ~> 198.51.100.50

EOF
