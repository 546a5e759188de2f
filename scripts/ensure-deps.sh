#!/usr/bin/env bash
# ensure-deps.sh - install the Debian packages Meridian's tests, demo and
# benchmarks use, and nothing else. Idempotent and quiet when all is there.
#
#   scripts/ensure-deps.sh [--optional] [GROUP...]
#
# GROUP (default: test)
#   run    dig and curl, for the commands `make run` prints
#   test   dig and delv, kdig, curl, unbound (with unbound-control and
#          unbound-checkconf), knotd (the delegation test's parent zone),
#          zonemaster-cli, dnsviz (the DNSSEC tests), prometheus (the load
#          shedding test's PromQL source), tzdata, ip, ps/pgrep,
#          chromium (the status page's browser tests, headless): every
#          program and file the tests use (grep exec calls in *_test.go)
#   bench  everything in test, plus dnsperf
#
# As root it installs what is missing with apt-get (one `apt-get update` per
# run, only when something is missing); as another user it uses `sudo -n` if
# that works without a password, otherwise it names the packages and exits 1.
# With --optional, a missing package that cannot be installed is a warning
# (exit 0): the tests that need it then skip locally, and fail when CI is set.
#
# Daemons: a temporary /usr/sbin/policy-rc.d keeps apt from starting the
# services it installs (unbound and knot would otherwise take port 53), and
# their system services are stopped and disabled afterwards if an init
# system started them anyway. The tests start their own unbound and knotd.
set -euo pipefail

optional=0
groups=()
for a in "$@"; do
	case $a in
	--optional) optional=1 ;;
	-h | --help)
		sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	run | test | bench) groups+=("$a") ;;
	*)
		echo "ensure-deps: unknown argument '$a' (groups: run test bench)" >&2
		exit 2
		;;
	esac
done
((${#groups[@]})) || groups=(test)

# package -> a file or command that proves it is installed
declare -A probe=(
	[bind9-dnsutils]=dig
	[knot-dnsutils]=kdig
	[curl]=curl
	[unbound]=/usr/sbin/unbound-control # the e2e test needs unbound, unbound-control and unbound-checkconf
	[knot]=/usr/sbin/knotd              # the delegation e2e test runs its own knotd as the parent
	[zonemaster-cli]=zonemaster-cli
	[dnsviz]=dnsviz
	[tzdata]=/usr/share/zoneinfo/zone.tab # geo's country table is checked against it
	[iproute2]=ip
	[procps]=pgrep
	[chromium]=/usr/bin/chromium # the status page's browser tests (test/e2e/statuspage_test.go)
	[dnsperf]=dnsperf
	[prometheus]=/usr/bin/prometheus # the load-shedding e2e test's PromQL source (test/e2e/load_test.go)
)
run_pkgs=(bind9-dnsutils curl)
test_pkgs=(bind9-dnsutils knot-dnsutils knot curl unbound zonemaster-cli dnsviz tzdata iproute2 procps chromium prometheus)
all_pkgs=("${test_pkgs[@]}" dnsperf)
declare -A want=()
for g in "${groups[@]}"; do
	case $g in
	run) for p in "${run_pkgs[@]}"; do want[$p]=1; done ;;
	test) for p in "${test_pkgs[@]}"; do want[$p]=1; done ;;
	bench) for p in "${all_pkgs[@]}"; do want[$p]=1; done ;;
	esac
done

have() {
	local p=$1
	if [[ $p == /usr/share/* ]]; then [[ -f $p ]]; elif [[ $p == /* ]]; then [[ -x $p ]]; else command -v "$p" >/dev/null 2>&1 || [[ -x /usr/sbin/$p || -x /sbin/$p ]]; fi
}

missing=()
for p in "${all_pkgs[@]}"; do
	[[ -n ${want[$p]:-} ]] || continue
	have "${probe[$p]}" || missing+=("$p")
done
((${#missing[@]})) || exit 0 # the common case: everything is there, say nothing

sudo=()
if [[ $(id -u) != 0 ]]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo=(sudo -n)
	else
		msg="ensure-deps: missing Debian packages: ${missing[*]}
  install them as root:  sudo apt-get install -y ${missing[*]}   (or: sudo make deps)"
		if ((optional)); then
			echo "$msg" >&2
			echo "  continuing: tests that need them skip locally and fail under CI=true" >&2
			exit 0
		fi
		echo "$msg" >&2
		exit 1
	fi
fi

log=$(mktemp "${TMPDIR:-/tmp}/ensure-deps.XXXXXX")
added_policy=0
cleanup() {
	if ((added_policy)); then "${sudo[@]}" rm -f /usr/sbin/policy-rc.d; fi
	rm -f "$log"
}
trap cleanup EXIT

echo "ensure-deps: installing ${missing[*]}" >&2
# policy-rc.d exit 101 = "action forbidden": invoke-rc.d and deb-systemd-invoke
# then do not start the services the packages ship.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
	printf '#!/bin/sh\n# added by meridian scripts/ensure-deps.sh for one apt run\nexit 101\n' |
		"${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
	"${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
	added_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$log" 2>&1; then
	echo "ensure-deps: apt-get update failed:" >&2
	tail -n 20 "$log" >&2
	exit 1
fi
if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >"$log" 2>&1; then
	echo "ensure-deps: apt-get install ${missing[*]} failed:" >&2
	tail -n 30 "$log" >&2
	exit 1
fi

# unbound's own service: the tests run private unbound instances on free
# ports; a system one left running would answer on 127.0.0.1:53 and confuse
# anyone using this machine. Stop it through its service manager.
if [[ -n ${want[unbound]:-} ]]; then
	for unit in unbound unbound-resolvconf knot prometheus prometheus-node-exporter; do
		if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
			if systemctl is-active -q "$unit" 2>/dev/null; then "${sudo[@]}" systemctl stop "$unit" || true; fi
			"${sudo[@]}" systemctl disable -q "$unit" 2>/dev/null || true
		fi
	done
	if [[ -s /run/unbound.pid ]] && command -v service >/dev/null 2>&1 &&
		kill -0 "$(cat /run/unbound.pid)" 2>/dev/null; then
		"${sudo[@]}" service unbound stop >/dev/null 2>&1 || true
	fi
fi

still=()
for p in "${missing[@]}"; do have "${probe[$p]}" || still+=("$p"); done
if ((${#still[@]})); then
	echo "ensure-deps: installed, but still not found: ${still[*]}" >&2
	exit 1
fi
echo "ensure-deps: installed ${missing[*]}" >&2
