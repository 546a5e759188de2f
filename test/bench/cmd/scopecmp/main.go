// Command scopecmp compares the ECS scopes two or more servers return for
// the same clients: it draws N random IPv4 /24s that the geo database
// locates (the address is in a network with a record naming a continent),
// asks every server `app.gslb.example A` with each /24 as its ECS option,
// and prints per server the median, 25th and 75th percentile scope and the
// share of answers at /16 or shorter, then how often each server's answer
// agrees with the first server's, and the clients where they disagree.
//
//	scopecmp -db kit.mmdb                                  # meridian :5307 against gdnsd :5303
//	scopecmp -db real.mmdb -n 1000 meridian=127.0.0.1:5307 gdnsd=127.0.0.1:5303 knot=127.0.0.1:5301
//
// A shorter scope is more cacheable: a resolver keeps one answer per scope
// prefix. The "w2 rule" column counts answers that match the side-by-side
// w2 configuration (EU, AF -> 198.51.100.10; AS, OC -> 203.0.113.10;
// others -> 192.0.2.10).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/test/bench/internal/dnsq"
	"github.com/meridian-gslb/meridian/test/bench/internal/geodb"
	"github.com/meridian-gslb/meridian/test/bench/internal/work"
)

type server struct{ name, addr string }

type answer struct {
	addrs string
	scope int
	err   error
}

func main() {
	var (
		dbPath = flag.String("db", os.Getenv("GEODB"), "geo `database` (mmdb; default $GEODB)")
		n      = flag.Int("n", 1000, "random located /24s")
		seed   = flag.Uint64("seed", 1, "random seed (the same seed gives the same /24s on the same database)")
		qname  = flag.String("name", work.App, "name to ask (type A)")
		show   = flag.Int("show", 20, "disagreements to list")
		tsv    = flag.String("tsv", "", "also write every client and answer to this `file`")
	)
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: scopecmp -db FILE [-n N] [-seed S] [NAME=ADDR:PORT ...]   (default meridian=127.0.0.1:5307 gdnsd=127.0.0.1:5303)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *dbPath == "" {
		flag.Usage()
		os.Exit(2)
	}
	args := flag.Args()
	if len(args) == 0 {
		args = []string{"meridian=127.0.0.1:5307", "gdnsd=127.0.0.1:5303"}
	}
	var servers []server
	for _, a := range args {
		name, addr, ok := strings.Cut(a, "=")
		if !ok {
			name, addr = a, a
		}
		if _, err := netip.ParseAddrPort(addr); err != nil {
			fatal("%s: %v", a, err)
		}
		servers = append(servers, server{name, addr})
	}
	if len(servers) < 2 {
		fatal("give at least two servers")
	}
	db, err := geodb.Open(*dbPath)
	if err != nil {
		fatal("%v", err)
	}
	defer db.Close()
	clients, err := db.Located(rand.New(rand.NewPCG(*seed, 0x5c0be)), *n)
	if err != nil {
		fatal("%v", err)
	}

	answers := make([][]answer, len(servers))
	places := make([]geodb.Place, len(clients))
	for i, p := range clients {
		if places[i], err = db.Lookup(p.Addr()); err != nil {
			fatal("%v", err)
		}
	}
	for si, s := range servers {
		answers[si] = make([]answer, len(clients))
		for ci, p := range clients {
			m, err := dnsq.Ask(s.addr, dnsq.Query(*qname, dns.TypeA, true, p), netip.Addr{})
			if err != nil {
				answers[si][ci] = answer{scope: -1, err: err}
				continue
			}
			answers[si][ci] = answer{addrs: dnsq.AddrsA(m), scope: dnsq.Scope(m)}
		}
	}

	fmt.Printf("scopecmp: %d random located IPv4 /24s (seed %d) from %s (%s, %d tree nodes), question %s A\n\n",
		len(clients), *seed, *dbPath, db.Type(), db.Nodes(), *qname)
	fmt.Printf("%-12s %9s %7s %7s %7s %9s %8s %8s %8s\n", "server", "answered", "median", "p25", "p75", "<=/16", "no ECS", "errors", "w2 rule")
	for si, s := range servers {
		var scopes []int
		errs, rule := 0, 0
		for ci, a := range answers[si] {
			if a.err != nil {
				errs++
				continue
			}
			scopes = append(scopes, a.scope)
			if a.addrs == work.SiteOf(places[ci].Continent).Addr {
				rule++
			}
		}
		st := work.Scopes(scopes)
		fmt.Printf("%-12s %9d %7s %7s %7s %8.1f%% %8d %8d %8d\n", s.name, len(scopes), dnsq.ScopeString(st.P50), dnsq.ScopeString(st.P25), dnsq.ScopeString(st.P75),
			pct(st.AtMost16, len(scopes)), st.None, errs, rule)
	}
	fmt.Println()
	for si := 1; si < len(servers); si++ {
		agree := 0
		var diff []int
		for ci := range clients {
			a, b := answers[0][ci], answers[si][ci]
			if a.err == nil && b.err == nil && a.addrs == b.addrs {
				agree++
			} else {
				diff = append(diff, ci)
			}
		}
		fmt.Printf("%s agrees with %s on %d of %d answers (%.1f%%)\n", servers[si].name, servers[0].name, agree, len(clients), pct(agree, len(clients)))
		for k, ci := range diff {
			if k == *show {
				fmt.Printf("  ... %d more\n", len(diff)-k)
				break
			}
			pl := places[ci]
			fmt.Printf("  %-18s db %-18s %-3s  %s: %s  %s: %s\n", clients[ci], pl.Network, pl.Continent,
				servers[0].name, show1(answers[0][ci]), servers[si].name, show1(answers[si][ci]))
		}
	}
	if *tsv != "" {
		f, err := os.Create(*tsv)
		if err != nil {
			fatal("%v", err)
		}
		w := bufio.NewWriter(f)
		fmt.Fprint(w, "client\tdb_network\tcontinent")
		for _, s := range servers {
			fmt.Fprintf(w, "\t%s_answer\t%s_scope", s.name, s.name)
		}
		fmt.Fprintln(w)
		for ci, p := range clients {
			fmt.Fprintf(w, "%s\t%s\t%s", p, places[ci].Network, places[ci].Continent)
			for si := range servers {
				a := answers[si][ci]
				addrs := a.addrs
				if a.err != nil {
					addrs = "error"
				}
				fmt.Fprintf(w, "\t%s\t%d", addrs, a.scope)
			}
			fmt.Fprintln(w)
		}
		if err := w.Flush(); err != nil {
			fatal("%v", err)
		}
		if err := f.Close(); err != nil {
			fatal("%v", err)
		}
	}
}

func show1(a answer) string {
	if a.err != nil {
		return "error (" + a.err.Error() + ")"
	}
	return a.addrs + " " + dnsq.ScopeString(a.scope)
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func fatal(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "scopecmp: "+f+"\n", a...)
	os.Exit(1)
}
