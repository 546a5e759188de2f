package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/httpapi"
)

// defaultServer is the HTTP API of a server that keeps the default
// http.listen.
const defaultServer = "http://" + config.DefaultHTTPListen

func runExplain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("explain", "meridian explain NAME --client IP[/PREFIX] [flags]",
		"Ask a running server how it answers NAME for a client, and why: the answer,\n"+
			"TTL and ECS scope, the rule that decided, where the client was placed and\n"+
			"what became of every member. A prefix stands for EDNS Client Subnet.")
	qtype := fs.StringP("type", "t", "A", "query type: A or AAAA")
	client := fs.String("client", "", "client address, or subnet as a resolver sends in ECS (required)")
	serverURL := fs.String("server", envOr("MERIDIAN_SERVER", defaultServer), "base URL of the server's HTTP API; $MERIDIAN_SERVER sets the default")
	asJSON := fs.Bool("json", false, "print the server's JSON instead of the report")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if code, done := fs.parse(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() != 1 {
		return fs.fail(stderr, "want exactly one NAME, got %d arguments", fs.NArg())
	}
	// Check locally what the server would refuse, so a typo is a usage error.
	if _, _, err := httpapi.ParseClient(*client); err != nil {
		return fs.fail(stderr, "--client: %v", err)
	}
	if _, _, err := httpapi.ParseQType(*qtype); err != nil {
		return fs.fail(stderr, "--type: %v", err)
	}
	u, err := explainURL(*serverURL, fs.Arg(0), *qtype, *client)
	if err != nil {
		return fs.fail(stderr, "--server: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	body, err := fetchAPI(ctx, u)
	if err != nil {
		fmt.Fprintf(stderr, "meridian explain: %v\n", err)
		return exitFail
	}
	if *asJSON {
		var out bytes.Buffer
		if json.Indent(&out, body, "", "  ") != nil {
			out.Reset()
			out.Write(body)
		}
		fmt.Fprintln(stdout, strings.TrimSpace(out.String()))
		return exitOK
	}
	var resp httpapi.ExplainResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		fmt.Fprintf(stderr, "meridian explain: the server's answer is not an explain response: %v\n", err)
		return exitFail
	}
	printExplain(stdout, &resp)
	return exitOK
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func explainURL(server, name, qtype, client string) (string, error) {
	return apiURL(server, "/api/v1/explain", url.Values{"name": {name}, "type": {qtype}, "client": {client}})
}

// apiURL is the URL of a running server's API path, server given as a URL
// or as host:port.
func apiURL(server, path string, query url.Values) (string, error) {
	if !strings.Contains(server, "://") {
		server = "http://" + server // "127.0.0.1:8053" is what people type
	}
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%q is not a URL such as %s", server, defaultServer)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query.Encode()
	return u.String(), nil
}

// fetchAPI GETs an API URL and returns the body of a 200, or an error
// carrying the server's own message.
func fetchAPI(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		var e httpapi.Error
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("server says: %s (%s)", e.Error, res.Status)
		}
		return nil, fmt.Errorf("%s: %s", res.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// printExplain writes the human report.
func printExplain(w io.Writer, r *httpapi.ExplainResponse) {
	q, a := r.Query, r.Answer
	fmt.Fprintf(w, "%s %s for client %s (configuration generation %d)\n\n", q.Name, q.Type, q.Client, r.Generation)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "answer:\t%s\n", answerLine(a))
	if a.Result == "success" {
		// Negative answers take the SOA's TTL and scope 0 in the DNS
		// server; gslb's zero values would only mislead here.
		fmt.Fprintf(tw, "ttl:\t%d\n", a.TTL)
		fmt.Fprintf(tw, "scope:\t/%d\t%s\n", a.ScopePrefix, scopeNote(a.ScopePrefix, q.SourcePrefix))
	}
	fmt.Fprintf(tw, "rule:\t%s\n", a.Reason)
	if a.Site != "" {
		fmt.Fprintf(tw, "site:\t%s\n", a.Site)
	}
	if a.Degraded {
		fmt.Fprintf(tw, "degraded:\tyes (members down, a lower priority group, or the down response)\n")
	}
	if t := r.Trace; t != nil && t.Located != nil {
		fmt.Fprintf(tw, "located:\t%s\n", locatedLine(t.Located.Source, t.Located.Network, t.Located.Site, t.Located.Country, t.Located.Continent, t.Located.Lat, t.Located.Lon))
	}
	if t := r.Trace; t != nil && t.Compiled != nil {
		// The compiled decision: the merged network is the scope's.
		fmt.Fprintf(tw, "compiled:\t%s, sites by preference: %s\n", t.Compiled.Network, strings.Join(t.Compiled.Order, "; "))
	}
	tw.Flush()
	if r.Note != "" {
		fmt.Fprintf(w, "\nnote: %s\n", r.Note)
	}
	if r.Trace == nil {
		return
	}
	if len(r.Trace.Members) > 0 {
		fmt.Fprintf(w, "\nmembers:\n")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  SITE\tMEMBER\tPRIORITY\tWEIGHT\tHEALTH\tADMIN\tDISTANCE\tVERDICT\n")
		details := false
		for _, m := range r.Trace.Members {
			health := "down"
			if m.Up {
				health = "up"
			}
			if !m.HealthKnown {
				health = "unknown (as up)"
			}
			admin := m.Admin
			if admin == "" {
				admin = "-"
			}
			dist := "-"
			if m.RTTMs != nil { // the latency strategy compares round-trip times
				dist = fmt.Sprintf("rtt %.1f ms", *m.RTTMs)
			}
			if m.DistanceKm != nil {
				dist = fmt.Sprintf("%.0f km", *m.DistanceKm)
				if m.BiasedKm != nil {
					dist += fmt.Sprintf(" (biased %.0f)", *m.BiasedKm)
				}
			}
			weight := fmt.Sprint(m.Weight)
			if m.Capacity != nil {
				weight += fmt.Sprintf(" x %.3g capacity", *m.Capacity)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", m.Site, m.Member, m.Priority, weight, health, admin, dist, m.Verdict)
			details = details || m.Health != ""
		}
		tw.Flush()
		if details {
			// The health verdict of every member considered, with the last
			// probe error: why a member is (or is not) down.
			fmt.Fprintf(w, "\nhealth:\n")
			tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			for _, m := range r.Trace.Members {
				if m.Health != "" {
					fmt.Fprintf(tw, "  %s\t%s\n", m.Member, m.Health)
				}
			}
			tw.Flush()
		}
		printLoads(w, r.Trace.Members)
	}
	if len(r.Trace.Steps) > 0 {
		fmt.Fprintf(w, "\nsteps:\n")
		for i, s := range r.Trace.Steps {
			fmt.Fprintf(w, "  %d. %s\n", i+1, s)
		}
	}
}

// printLoads prints each member's load signal, for a service with load
// shedding: the value, where it came from, how old, and what it did.
func printLoads(w io.Writer, members []gslb.MemberVerdict) {
	some := false
	for _, m := range members {
		some = some || m.Load != nil
	}
	if !some {
		return
	}
	fmt.Fprintf(w, "\nload:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, m := range members {
		if l := m.Load; l != nil {
			from := ""
			if l.Source != "" && l.AgeSeconds != nil {
				from = fmt.Sprintf("from %s, %.1f s old", l.Source, *l.AgeSeconds)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", m.Member, l.State, from)
		}
	}
	tw.Flush()
}

// scopeNote says what the ECS scope means for the resolver's cache.
func scopeNote(scope uint8, source int) string {
	if scope == 0 {
		return "(the answer does not depend on the client; resolvers may cache it for everyone)"
	}
	return fmt.Sprintf("(resolvers may reuse this answer for every client in the same /%d; the client sent /%d)", scope, source)
}

func answerLine(a httpapi.ExplainAnswer) string {
	switch {
	case a.Target != "":
		return fmt.Sprintf("%s CNAME %s", a.Result, a.Target)
	case len(a.Addresses) > 0:
		return fmt.Sprintf("%s %s", a.Result, strings.Join(a.Addresses, " "))
	}
	return a.Result
}

func locatedLine(source, network, site, country, continent string, lat, lon float64) string {
	parts := []string{"by " + source}
	if network != "" {
		parts = append(parts, "network "+network)
	}
	if site != "" {
		parts = append(parts, "at site "+site)
	}
	if country != "" {
		parts = append(parts, "country "+country)
	}
	if continent != "" {
		parts = append(parts, "continent "+continent)
	}
	if lat != 0 || lon != 0 {
		parts = append(parts, fmt.Sprintf("lat %.2f lon %.2f", lat, lon))
	}
	return strings.Join(parts, ", ")
}
