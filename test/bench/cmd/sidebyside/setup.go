//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/meridian-gslb/meridian/test/bench/internal/work"
)

// run runs a command in dir with its output to the log (and, on failure,
// the log's tail to stderr).
func run(dir, logPath string, env []string, argv ...string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	fmt.Fprintf(lf, "+ (cd %s && %s)\n", dir, strings.Join(argv, " "))
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w (log: %s)\n%s", strings.Join(argv, " "), err, logPath, tail(logPath, 8))
	}
	return nil
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// install installs the Debian packages the selected servers are missing,
// keeping apt from starting their system services. A server whose packages
// cannot be installed is dropped from the run, with the reason.
func (h *harness) install() {
	var need []string
	for _, s := range h.servers {
		if s.pkgs == nil {
			continue
		}
		for _, wl := range h.workloads {
			if s.only == "" || s.only == wl {
				for _, p := range s.pkgs(wl) {
					if !slices.Contains(need, p) {
						need = append(need, p)
					}
				}
			}
		}
	}
	if len(need) == 0 {
		return
	}
	if os.Geteuid() != 0 {
		h.logf("not root: cannot install %s; the servers needing them are skipped", strings.Join(need, " "))
		h.dropMissing()
		return
	}
	h.logf("installing %s with apt-get (log %s/apt.log)", strings.Join(need, " "), h.run)
	const policy = "/usr/sbin/policy-rc.d"
	if _, err := os.Stat(policy); os.IsNotExist(err) {
		// exit 101: invoke-rc.d starts no service while we install
		if os.WriteFile(policy, []byte("#!/bin/sh\nexit 101\n"), 0o755) == nil {
			defer os.Remove(policy)
		}
	}
	logPath := filepath.Join(h.run, "apt.log")
	env := []string{"DEBIAN_FRONTEND=noninteractive"}
	if err := run("/", logPath, env, "apt-get", "update", "-q"); err != nil {
		h.logf("apt-get update failed: %v", err)
	}
	if err := run("/", logPath, env, append([]string{"apt-get", "install", "-y", "-q", "--no-install-recommends"}, need...)...); err != nil {
		h.logf("apt-get install failed, trying the packages one at a time: %v", err)
		for _, p := range need {
			if err := run("/", logPath, env, "apt-get", "install", "-y", "-q", "--no-install-recommends", p); err != nil {
				h.logf("cannot install %s", p)
			}
		}
	}
	h.dropMissing()
}

// dropMissing marks servers whose packages are still missing as not
// installed for the workloads that need them.
func (h *harness) dropMissing() {
	for _, s := range h.servers {
		if s.pkgs == nil {
			continue
		}
		for _, wl := range h.workloads {
			if miss := s.pkgs(wl); len(miss) > 0 {
				h.setCheck(wl, s.name, "NO-PKG", "missing Debian packages: "+strings.Join(miss, " "))
			}
		}
	}
}

// tools builds qload into $RUN/bin and, when CoreDNS is selected and not
// given, CoreDNS into the cache directory with go install.
func (h *harness) tools() error {
	bin := filepath.Join(h.run, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	h.qload = filepath.Join(bin, "qload")
	mod := filepath.Join(h.repo, "test", "bench")
	h.scopecmp = filepath.Join(bin, "scopecmp")
	if err := run(mod, filepath.Join(h.run, "build.log"), nil, "go", "build", "-o", bin, "./cmd/qload", "./cmd/scopecmp"); err != nil {
		return err
	}
	if !slices.ContainsFunc(h.servers, func(s *server) bool { return s.name == "coredns" }) {
		return nil
	}
	if h.coredns == "" {
		dir := filepath.Join(h.cache, "coredns-"+h.corednsVersion)
		h.coredns = filepath.Join(dir, "coredns")
		if _, err := os.Stat(h.coredns); err != nil {
			h.logf("building CoreDNS %s into %s (go install; minutes the first time)", h.corednsVersion, dir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			err := run(os.TempDir(), filepath.Join(h.run, "build.log"), []string{"GOBIN=" + dir, "GOFLAGS=-mod=mod"},
				"go", "install", "github.com/coredns/coredns@"+h.corednsVersion)
			if err != nil {
				h.logf("CoreDNS not available: %v", err)
				for _, wl := range h.workloads {
					h.setCheck(wl, "coredns", "NO-BIN", err.Error())
				}
			}
		}
	} else if out, err := exec.Command(h.coredns, "-version").Output(); err == nil {
		// CoreDNS-1.12.4\nlinux/amd64, go1.26.0, ...
		if v, ok := strings.CutPrefix(strings.SplitN(string(out), "\n", 2)[0], "CoreDNS-"); ok {
			h.corednsVersion = "v" + v
		}
	}
	return nil
}

// data writes the zone and the query files, and makes the geo database
// unless GEODB names one.
func (h *harness) data() error {
	dir := filepath.Join(h.run, "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	h.zone = filepath.Join(dir, "gslb.example.zone")
	if err := write(h.zone, work.ZoneText(work.Sites[0].Addr, "")); err != nil {
		return err
	}
	// the query files depend only on the counts (fixed seeds); w2-do is w2
	// with the DO bit, for the servers asked with it
	h.queries = map[string]string{}
	var keys []string
	for _, wl := range h.workloads {
		keys = append(keys, wl)
		for _, s := range h.servers {
			if k := s.queryKey(wl); (s.only == "" || s.only == wl) && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	for _, key := range keys {
		wl, do := strings.CutSuffix(key, "-do")
		n := h.w1Queries
		if wl == "w2" {
			n = h.w2Queries
		}
		p := filepath.Join(dir, fmt.Sprintf("%s-%d.q", key, n))
		h.queries[key] = p
		if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
			continue
		}
		h.logf("writing %d %s queries to %s", n, key, p)
		var err error
		switch {
		case wl == "w1" && !do:
			err = work.WriteW1(p+".tmp", n)
		case wl == "w2":
			err = work.WriteW2(p+".tmp", n, do)
		default:
			err = fmt.Errorf("no query file %s", key)
		}
		if err == nil {
			err = os.Rename(p+".tmp", p)
		}
		if err != nil {
			return err
		}
	}
	if !slices.Contains(h.workloads, "w2") {
		return nil
	}
	if h.geodb == "" {
		h.geodb = filepath.Join(dir, "kit.mmdb")
		if fi, err := os.Stat(h.geodb); err != nil || fi.Size() == 0 {
			h.logf("generating the geo database (testdata/geo/mkmmdb -size kit) into %s", h.geodb)
			gen := filepath.Join(h.repo, "testdata", "geo", "mkmmdb")
			if err := run(gen, filepath.Join(h.run, "build.log"), nil, "go", "run", ".", "-size", "kit", "-o", h.geodb+".tmp"); err != nil {
				return fmt.Errorf("geo database: %w\n(set GEODB=FILE to use an existing GeoIP2-City-schema mmdb)", err)
			}
			if err := os.Rename(h.geodb+".tmp", h.geodb); err != nil {
				return err
			}
		}
	}
	if _, err := os.Stat(h.geodb); err != nil {
		return fmt.Errorf("GEODB: %w", err)
	}
	return nil
}

// machineInfo is the header line's description of the machine.
func machineInfo() string {
	host, _ := os.Hostname()
	model := ""
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	return fmt.Sprintf("%s, %d CPUs (%s)", host, cpuCount(), model)
}
