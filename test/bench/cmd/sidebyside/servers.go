//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/meridian-gslb/meridian/test/bench/internal/work"
)

// server is one DNS server the harness can run.
type server struct {
	name    string
	port    int
	label   string                   // name in the tables, e.g. "gdnsd 3.8.1"
	only    string                   // the one workload it has ("" = both)
	base    string                   // the server this one is a variant of (the table has the ratio to it)
	do      bool                     // its queries have the DNSSEC OK bit (the w2-do file)
	pkgs    func(wl string) []string // Debian packages it needs for wl (missing ones)
	version func(h *harness) string
	// prepare writes the configuration for wl into dir and returns the
	// command line and extra environment.
	prepare func(h *harness, s *server, dir, wl string) (argv, env []string, err error)
}

// servers in table order.
var servers = []*server{
	{name: "meridian", port: 5307, prepare: prepMeridian, version: meridianVersion},
	// the zone signed online, the w2 queries with DO: the issue's "signed
	// w2 at >= 0.8x unsigned w2 qps"
	{name: "meridian-dnssec", port: 5308, only: "w2", base: "meridian", do: true, prepare: prepMeridian, version: meridianVersion},
	{name: "gdnsd", port: 5303, prepare: prepGdnsd, pkgs: needs(pkg{"gdnsd", "/usr/sbin/gdnsd"}), version: debVersion("gdnsd")},
	{name: "knot", port: 5301, prepare: prepKnot, version: debVersion("knot"), pkgs: func(wl string) []string {
		p := needs(pkg{"knot", "/usr/sbin/knotd"})(wl)
		if wl == "w2" && !anyFile("/usr/lib/*/knot/modules-*/geoip.so") {
			p = append(p, "knot-module-geoip")
		}
		return p
	}},
	{name: "nsd", port: 5302, only: "w1", prepare: prepNSD, pkgs: needs(pkg{"nsd", "/usr/sbin/nsd"}), version: debVersion("nsd")},
	{name: "pdns", port: 5304, prepare: prepPDNS, version: debVersion("pdns-server"), pkgs: func(wl string) []string {
		p := needs(pkg{"pdns-server", "/usr/sbin/pdns_server"})(wl)
		if wl == "w1" && !anyFile("/usr/lib/*/pdns/libbindbackend.so") {
			p = append(p, "pdns-backend-bind")
		}
		if wl == "w2" && !anyFile("/usr/lib/*/pdns/libgeoipbackend.so") {
			p = append(p, "pdns-backend-geoip")
		}
		return p
	}},
	{name: "coredns", port: 5305, prepare: prepCoreDNS, version: func(h *harness) string { return h.corednsVersion }},
}

// serverNames lists the servers, for messages.
func serverNames() string {
	var names []string
	for _, s := range servers {
		names = append(names, s.name)
	}
	return strings.Join(names, " ")
}

// isMeridian says whether s is started by anchors-project.
func (s *server) isMeridian() bool { return s.name == "meridian" || s.base == "meridian" }

// queryKey is the key of s's query file for wl in harness.queries: wl,
// or wl-do for a server asked with the DO bit.
func (s *server) queryKey(wl string) string {
	if s.do {
		return wl + "-do"
	}
	return wl
}

func serverByName(name string) *server {
	for _, s := range servers {
		if s.name == name {
			return s
		}
	}
	return nil
}

type pkg struct{ name, file string }

func needs(ps ...pkg) func(string) []string {
	return func(string) []string {
		var out []string
		for _, p := range ps {
			if _, err := os.Stat(p.file); err != nil {
				out = append(out, p.name)
			}
		}
		return out
	}
}

func anyFile(glob string) bool {
	m, _ := filepath.Glob(glob)
	return len(m) > 0
}

func debVersion(p string) func(*harness) string {
	return func(*harness) string {
		out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", p).Output()
		if err != nil {
			return ""
		}
		v, _, _ := strings.Cut(string(out), "-")
		if i := strings.IndexByte(v, ':'); i >= 0 {
			v = v[i+1:]
		}
		return v
	}
}

func meridianVersion(h *harness) string {
	out, err := exec.Command("git", "-C", h.repo, "describe", "--tags", "--always", "--dirty").Output()
	if err != nil {
		return "dev"
	}
	return strings.TrimSpace(string(out))
}

func write(path, text string) error { return os.WriteFile(path, []byte(text), 0o644) }

// ---- Meridian: test/bench/anchors-project writes its config and execs bin/meridian ----

func prepMeridian(h *harness, s *server, dir, wl string) ([]string, []string, error) {
	script := filepath.Join(h.repo, "test", "bench", "anchors-project")
	// anchors-project writes its config under $RUN; DNSSEC=1 makes a key
	// there with `meridian dnssec keygen` and signs the zone with it
	env := []string{"RUN=" + dir}
	if s.do {
		env = append(env, "DNSSEC=1")
	}
	return []string{script, fmt.Sprint(s.port), h.geodb, h.zone, wl}, env, nil
}

// ---- gdnsd: zone file with a DYNA record resolved by plugin_geoip ----

func prepGdnsd(h *harness, s *server, dir, wl string) ([]string, []string, error) {
	for _, d := range []string{"zones", "run", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, nil, err
		}
	}
	port := s.port
	cfg := fmt.Sprintf(`# gdnsd for side-by-side %s (written by test/bench/cmd/sidebyside)
options => {
  listen => [ 127.0.0.1:%d ]
  udp_threads => 1
  tcp_threads => 1
  run_dir => %s/run
  state_dir => %s/state
  edns_client_subnet => true
}
`, wl, port, dir, dir)
	zone := work.ZoneText(work.Sites[0].Addr, "")
	if wl == "w2" {
		zone = work.ZoneText("", "app 30 DYNA geoip!app")
		var m, dcmap strings.Builder
		for _, c := range work.Continents {
			fmt.Fprintf(&m, "          %s => [ %s ]\n", c, work.SiteOf(c).Name)
		}
		fmt.Fprintf(&m, "          default => [ %s ]\n", work.Sites[0].Name)
		names := make([]string, len(work.Sites))
		for i, site := range work.Sites {
			names[i] = site.Name
			fmt.Fprintf(&dcmap, "          %s => %s\n", site.Name, site.Addr)
		}
		cfg += fmt.Sprintf(`plugins => {
  geoip => {
    maps => {
      bench => {
        geoip2_db => %s
        datacenters => [ %s ]
        map => {
%s        }
      }
    }
    resources => {
      app => {
        map => bench
        service_types => up
        dcmap => {
%s        }
      }
    }
  }
}
`, h.geodb, strings.Join(names, ", "), m.String(), dcmap.String())
	}
	if err := write(filepath.Join(dir, "config"), cfg); err != nil {
		return nil, nil, err
	}
	if err := write(filepath.Join(dir, "zones", "gslb.example"), zone); err != nil {
		return nil, nil, err
	}
	return []string{"gdnsd", "-c", dir, "start"}, nil, nil
}

// ---- Knot DNS: zone file; w2 answers from mod-geoip in geodb mode ----

func prepKnot(h *harness, s *server, dir, wl string) ([]string, []string, error) {
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o755); err != nil {
		return nil, nil, err
	}
	if err := write(filepath.Join(dir, "gslb.example.zone"), work.ZoneText(work.Sites[0].Addr, "")); err != nil {
		return nil, nil, err
	}
	port := s.port
	ecs, module, modcfg := "", "", ""
	if wl == "w2" {
		var y strings.Builder
		y.WriteString("app.gslb.example:\n")
		for _, c := range work.Continents {
			fmt.Fprintf(&y, "  - geo: \"%s\"\n    A: %s\n", c, work.SiteOf(c).Addr)
		}
		if err := write(filepath.Join(dir, "geo.yaml"), y.String()); err != nil {
			return nil, nil, err
		}
		ecs = "    edns-client-subnet: on\n"
		module = "    module: mod-geoip/bench\n"
		modcfg = fmt.Sprintf(`mod-geoip:
  - id: bench
    config-file: %s/geo.yaml
    mode: geodb
    geodb-file: %s
    geodb-key: [ continent/code ]
    ttl: 30
`, dir, h.geodb)
	}
	cfg := fmt.Sprintf(`# knot for side-by-side %s (written by test/bench/cmd/sidebyside)
server:
    rundir: %s
    listen: 127.0.0.1@%d
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
%sdatabase:
    storage: %s/db
log:
  - target: stderr
    any: warning
%szone:
  - domain: gslb.example
    storage: %s
    file: gslb.example.zone
    journal-content: none
    zonefile-sync: -1
    zonefile-load: whole
    semantic-checks: off
%s`, wl, dir, port, ecs, dir, modcfg, dir, module)
	if err := write(filepath.Join(dir, "knot.conf"), cfg); err != nil {
		return nil, nil, err
	}
	return []string{"knotd", "-c", filepath.Join(dir, "knot.conf")}, nil, nil
}

// ---- NSD: static zone only (w1) ----

func prepNSD(h *harness, s *server, dir, wl string) ([]string, []string, error) {
	if err := write(filepath.Join(dir, "gslb.example.zone"), work.ZoneText(work.Sites[0].Addr, "")); err != nil {
		return nil, nil, err
	}
	port := s.port
	cfg := fmt.Sprintf(`# nsd for side-by-side w1 (written by test/bench/cmd/sidebyside)
server:
    ip-address: 127.0.0.1@%d
    server-count: 1
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: %s
    database: ""
    zonelistfile: %s/zone.list
    xfrdfile: %s/xfrd.state
    xfrdir: %s
    pidfile: %s/nsd.pid
    logfile: %s/nsd.log
    verbosity: 0
    # Debian's NSD limits answers per /24 by default; all the load comes from 127.0.0.1
    rrl-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: gslb.example
    zonefile: gslb.example.zone
`, port, dir, dir, dir, dir, dir, dir)
	if err := write(filepath.Join(dir, "nsd.conf"), cfg); err != nil {
		return nil, nil, err
	}
	return []string{"nsd", "-d", "-c", filepath.Join(dir, "nsd.conf")}, nil, nil
}

// ---- PowerDNS: bind backend (w1), geoip backend (w2) ----

func prepPDNS(h *harness, s *server, dir, wl string) ([]string, []string, error) {
	port := s.port
	common := fmt.Sprintf(`local-address=127.0.0.1:%d
socket-dir=%s
daemon=no
guardian=no
disable-syslog=yes
loglevel=3
primary=no
webserver=no
api=no
security-poll-suffix=
write-pid=no
receiver-threads=1
distributor-threads=1
`, port, dir)
	var cfg string
	if wl == "w1" {
		zf := filepath.Join(dir, "gslb.example.zone")
		if err := write(zf, work.ZoneText(work.Sites[0].Addr, "")); err != nil {
			return nil, nil, err
		}
		if err := write(filepath.Join(dir, "named.conf"), fmt.Sprintf("zone \"gslb.example\" { type master; file \"%s\"; };\n", zf)); err != nil {
			return nil, nil, err
		}
		cfg = fmt.Sprintf("# PowerDNS for side-by-side w1: bind backend, default packet cache\nlaunch=bind\nbind-config=%s/named.conf\n", dir)
	} else {
		// %cn is the continent code, lower case; a continent without a
		// record of its own falls through to the next format
		var y strings.Builder
		y.WriteString(`domains:
- domain: gslb.example
  ttl: 30
  records:
    gslb.example:
      - soa: ns1.gslb.example hostmaster.gslb.example 2024010101 7200 3600 1209600 60
      - ns: ns1.gslb.example
    ns1.gslb.example:
      - a: 127.0.0.1
`)
		for _, c := range work.Continents {
			fmt.Fprintf(&y, "    %s.cont.gslb.example:\n      - a: %s\n", strings.ToLower(c), work.SiteOf(c).Addr)
		}
		fmt.Fprintf(&y, "    other.cont.gslb.example:\n      - a: %s\n", work.Sites[0].Addr)
		y.WriteString("  services:\n    app.gslb.example: [ '%cn.cont.gslb.example', 'other.cont.gslb.example' ]\n")
		if err := write(filepath.Join(dir, "geo.yaml"), y.String()); err != nil {
			return nil, nil, err
		}
		cfg = fmt.Sprintf("# PowerDNS for side-by-side w2: geoip backend, ECS on\nlaunch=geoip\ngeoip-database-files=mmdb:%s\ngeoip-zones-file=%s/geo.yaml\nedns-subnet-processing=yes\n", h.geodb, dir)
	}
	if err := write(filepath.Join(dir, "pdns.conf"), cfg+common); err != nil {
		return nil, nil, err
	}
	return []string{"pdns_server", "--config-dir=" + dir}, nil, nil
}

// ---- CoreDNS: file plugin (w1); w2: geoip + view, one server block per site ----

func prepCoreDNS(h *harness, s *server, dir, wl string) ([]string, []string, error) {
	port := s.port
	var cf strings.Builder
	fmt.Fprintf(&cf, "# CoreDNS for side-by-side %s (written by test/bench/cmd/sidebyside)\n", wl)
	if wl == "w1" {
		zf := filepath.Join(dir, "gslb.example.zone")
		if err := write(zf, work.ZoneText(work.Sites[0].Addr, "")); err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(&cf, "gslb.example:%d {\n    bind 127.0.0.1\n    file %s\n}\n", port, zf)
	} else {
		// the views are tried in order; the last block has none and takes the rest
		for i, site := range work.Sites {
			zf := filepath.Join(dir, "gslb.example."+site.Name+".zone")
			if err := write(zf, work.ZoneText(site.Addr, "")); err != nil {
				return nil, nil, err
			}
			if i == 0 {
				continue
			}
			var conts []string
			for _, c := range work.Continents {
				if work.SiteOf(c).Name == site.Name {
					conts = append(conts, "'"+c+"'")
				}
			}
			fmt.Fprintf(&cf, `gslb.example:%d {
    bind 127.0.0.1
    geoip %s {
        edns-subnet
    }
    metadata
    view %s {
        expr metadata('geoip/continent/code') in [%s]
    }
    file %s
}
`, port, h.geodb, strings.ReplaceAll(site.Name, "-", ""), strings.Join(conts, ", "), zf)
		}
		fmt.Fprintf(&cf, "gslb.example:%d {\n    bind 127.0.0.1\n    file %s\n}\n", port, filepath.Join(dir, "gslb.example."+work.Sites[0].Name+".zone"))
	}
	if err := write(filepath.Join(dir, "Corefile"), cf.String()); err != nil {
		return nil, nil, err
	}
	return []string{h.coredns, "-conf", filepath.Join(dir, "Corefile"), "-quiet"}, nil, nil
}
