//go:build linux

package main

import (
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meridian-gslb/meridian/test/bench/internal/geodb"
)

var wlTitle = map[string]string{
	"w1": "w1 static zone (20% app A, 80% random www0..999 A, no EDNS)",
	"w2": "w2 geo (app A, each query with the ECS option of a distinct random /24)",
}

func (h *harness) label(s *server) string {
	v := ""
	if s.version != nil {
		v = s.version(h)
	}
	if v == "" {
		return s.name
	}
	return s.name + " " + v
}

// report prints one table per workload, then a Markdown summary in the
// layout of docs/performance.md.
func (h *harness) report(w io.Writer) {
	commit, _ := exec.Command("git", "-C", h.repo, "log", "-1", "--format=%h %s").Output()
	fmt.Fprintf(w, "\nMeridian side by side on %s, %s\n", machineInfo(), time.Now().UTC().Format("2006-01-02 15:04Z"))
	runs := fmt.Sprintf("%v x %d, median run", h.dur, h.reps)
	if h.reps == 0 {
		runs = "answer checks only (REPS=0)"
	}
	fmt.Fprintf(w, "servers on CPU %d, qload on CPU %d (%d sockets, %d outstanding), nice %d; %s; commit %s\n",
		h.serverCPU, h.genCPU, h.clients, h.window, h.nice, runs, strings.TrimSpace(string(commit)))
	if h.geodb != "" {
		if db, err := geodb.Open(h.geodb); err == nil {
			fmt.Fprintf(w, "w2 database: %s (%s, %d tree nodes)\n", h.geodb, db.Type(), db.Nodes())
			db.Close()
		}
	}
	for _, wl := range h.workloads {
		// variants (meridian-dnssec) get a column with their ratio to the
		// server they vary
		var variants []*server
		for _, s := range h.servers {
			if s.base != "" && (s.only == "" || s.only == wl) {
				variants = append(variants, s)
			}
		}
		files := filepath.Base(h.queries[wl])
		for _, s := range variants {
			if s.do {
				files += fmt.Sprintf("; %s: %s (the same with the DNSSEC OK bit)", s.name, filepath.Base(h.queries[s.queryKey(wl)]))
			}
		}
		fmt.Fprintf(w, "\n%s, %s\n", wlTitle[wl], files)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		hdr := "server\tcheck\tqps\tlat ms\tsrv%\tqload%\tothers%\tqps/core\t/gdnsd\t/gdnsd core\t/coredns\t"
		if len(variants) > 0 {
			hdr += "/" + variants[0].base + "\t"
		}
		if wl == "w2" {
			hdr += "scope p50\t"
		}
		if h.latency {
			hdr += "at half: qps\tp50 ms\tp99 ms\tp99.9 ms\t"
		}
		fmt.Fprintln(tw, hdr+"flags\t")
		g, c := h.median(wl, "gdnsd"), h.median(wl, "coredns")
		for _, s := range h.servers {
			if s.only != "" && s.only != wl {
				continue
			}
			ck := h.checks[wl+"/"+s.name]
			line := fmt.Sprintf("%s\t%s\t", h.label(s), ck.status)
			scope := "-"
			if v, ok := h.medians[wl+"/"+s.name]; ok {
				scope = "none"
				if v >= 0 {
					scope = fmt.Sprintf("/%.0f", v)
				}
			}
			m := h.median(wl, s.name)
			if m == nil {
				cols := strings.Repeat("-\t", 9)
				if len(variants) > 0 {
					cols += "-\t"
				}
				if wl == "w2" {
					cols += scope + "\t"
				}
				if h.latency {
					cols += strings.Repeat("-\t", 4)
				}
				fmt.Fprintln(tw, line+cols+"-\t")
				continue
			}
			perCore := 0.0
			if m.cpu.Srv > 0 {
				perCore = m.q.QPS / (m.cpu.Srv / 100)
			}
			ratio := func(o *row, core bool) string {
				if o == nil || o.q.QPS == 0 {
					return "-"
				}
				if !core {
					return fmt.Sprintf("%.2f", m.q.QPS/o.q.QPS)
				}
				if o.cpu.Srv == 0 || perCore == 0 {
					return "-"
				}
				return fmt.Sprintf("%.2f", perCore/(o.q.QPS/(o.cpu.Srv/100)))
			}
			line += fmt.Sprintf("%s\t%.3f\t%.0f\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t", thousands(m.q.QPS), m.q.LatencyMs.Avg, m.cpu.Srv, m.cpu.Gen, m.cpu.Foreign,
				thousands(perCore), ratio(g, false), ratio(g, true), ratio(c, false))
			if len(variants) > 0 {
				b := "-"
				if s.base != "" {
					b = ratio(h.median(wl, s.base), false)
				}
				line += b + "\t"
			}
			if wl == "w2" {
				line += scope + "\t"
			}
			if h.latency {
				if r := h.rateRow(wl, s.name); r != nil {
					line += fmt.Sprintf("%s\t%s\t%s\t%s\t", thousands(r.q.TargetRate), msStr(r.q.LatencyMs.P50), msStr(r.q.LatencyMs.P99), msStr(r.q.LatencyMs.P999))
				} else {
					line += "-\t-\t-\t-\t"
				}
			}
			flags := ""
			if m.cpu.Gen >= 95 && m.cpu.Srv < 90 {
				flags += "G"
			}
			if m.cpu.Foreign > h.foreignMax {
				flags += "F"
			}
			if m.q.Sent > 0 && float64(m.q.Lost) > 0.005*float64(m.q.Sent) {
				flags += "L"
			}
			if r := h.rateRow(wl, s.name); r != nil && r.q.PacingLateP99 > 1 {
				flags += "P"
			}
			if flags == "" {
				flags = "-"
			}
			fmt.Fprintln(tw, line+flags+"\t")
		}
		tw.Flush()
		for _, s := range variants {
			if line := h.variantLine(wl, s); line != "" {
				fmt.Fprintln(w, line)
			}
		}
	}
	fmt.Fprintf(w, "\nqps/core = qps / the server's CPU share; /gdnsd core compares those. scope p50: median ECS scope over the check's %d random located /24s.\n", h.checkN)
	if h.latency {
		fmt.Fprintln(w, "at half: qload at a fixed rate of half the median qps; latency from the send to the kernel's receive timestamp.")
	}
	fmt.Fprintf(w, "flags: G qload saturated (>= 95%%, server < 90%%): qps is a lower bound; F others used > %.0f%% of a core; L > 0.5%% of queries lost;\n", h.foreignMax)
	fmt.Fprintln(w, "       P in the fixed-rate run qload sent late (p99 > 1 ms behind schedule, then in bursts): its percentiles are not the server's alone.")
	fmt.Fprintln(w, "check: ok; WRONG (wrong answers, not timed); START-FAIL; NO-PKG (apt could not install it); NO-BIN (CoreDNS did not build).")
	for _, wl := range h.workloads {
		for _, s := range h.servers {
			if ck, ok := h.checks[wl+"/"+s.name]; ok && ck.status != "ok" {
				fmt.Fprintf(w, "  %s %s %s: %s\n", wl, s.name, ck.status, firstLine(ck.detail))
			}
		}
	}

	if h.scopeReport != "" {
		fmt.Fprintf(w, "\nECS scopes, w2 (scopecmp; also in %s):\n%s", filepath.Join(h.run, "scopecmp-w2.txt"), h.scopeReport)
	}

	// Markdown, for docs/performance.md
	fmt.Fprintln(w)
	hdr := "| server |"
	sep := "|---|"
	for _, wl := range h.workloads {
		hdr += " " + wl + " qps |"
		sep += "---|"
	}
	for _, wl := range h.workloads {
		hdr += " " + wl + " / gdnsd |"
		sep += "---|"
	}
	for _, wl := range h.workloads {
		hdr += " " + wl + " / CoreDNS |"
		sep += "---|"
	}
	fmt.Fprintln(w, hdr)
	fmt.Fprintln(w, sep)
	for _, s := range h.servers {
		line := "| " + h.label(s) + " |"
		for _, wl := range h.workloads {
			if m := h.median(wl, s.name); m != nil {
				line += " " + thousands(m.q.QPS) + " |"
			} else if ck, ok := h.checks[wl+"/"+s.name]; ok {
				line += " " + ck.status + " |"
			} else {
				line += " - |"
			}
		}
		for _, ref := range []string{"gdnsd", "coredns"} {
			for _, wl := range h.workloads {
				m, o := h.median(wl, s.name), h.median(wl, ref)
				if m == nil || o == nil || o.q.QPS == 0 {
					line += " - |"
					continue
				}
				line += fmt.Sprintf(" %.2f |", m.q.QPS/o.q.QPS)
			}
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "\nraw runs: %s; answer checks: %s/check-*.txt; server logs: %s/<server>-<workload>/; total %.0f s\n",
		filepath.Join(h.run, "results.tsv"), h.run, h.run, time.Since(h.t0).Seconds())
}

// variantLine compares a variant (meridian-dnssec) with the server it
// varies: qps and qps per core, "" when either has no timed run.
func (h *harness) variantLine(wl string, s *server) string {
	m, b := h.median(wl, s.name), h.median(wl, s.base)
	if m == nil || b == nil || b.q.QPS == 0 {
		return ""
	}
	what := "the same server"
	if s.do {
		what = "the zone signed, queries with the DO bit"
	}
	line := fmt.Sprintf("%s / %s (%s): qps %.2f (%s / %s)", s.name, s.base, what, m.q.QPS/b.q.QPS, thousands(m.q.QPS), thousands(b.q.QPS))
	if m.cpu.Srv > 0 && b.cpu.Srv > 0 {
		line += fmt.Sprintf(", qps/core %.2f", (m.q.QPS/m.cpu.Srv)/(b.q.QPS/b.cpu.Srv))
	}
	if s.do {
		line += "; the DNSSEC issue's acceptance: signed w2 qps >= 0.8x unsigned"
	}
	return line
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// thousands formats a non-negative number with thousands separators.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
