package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dnsserver/delegation"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/sites"
)

// Exit codes of delegation check: in sync, differences, errors.
const (
	checkInSync = 0
	checkDiffer = 1
	checkError  = 2
)

// parseCheck parses the flags of a check command (delegation check,
// dnssec status), which takes --config and no arguments: when done, it
// returns the exit code, usage errors as checkError.
func (f *flagSet) parseCheck(args []string, file *string, stdout, stderr io.Writer) (code int, done bool) {
	if code, done := f.parse(args, stdout, stderr); done {
		if code == exitUsage {
			return checkError, true
		}
		return code, true
	}
	if *file == "" || f.NArg() != 0 {
		f.fail(stderr, "want --config FILE and no arguments")
		return checkError, true
	}
	return 0, false
}

func runDelegation(args []string, stdout, stderr io.Writer) int {
	return runSub(args, delegationUsage, map[string]func([]string, io.Writer, io.Writer) int{"check": runDelegationCheck}, checkError, stdout, stderr)
}

const delegationUsage = `Usage: meridian delegation check --config FILE [flags]

Compare each zone's delegation in its parent zone (the NS RRset and the glue)
with the name servers the configuration asks for, and print what differs.
`

func runDelegationCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("delegation check", "meridian delegation check --config FILE [--zone NAME] [--api URL] [--server HOST:PORT]",
		"Ask each zone's parent (zones[].delegation.server) for the zone's NS RRset and\n"+
			"glue, and print what differs from the configured name servers: missing NS,\n"+
			"extra NS, missing, extra or wrong glue. Without --api every configured name\n"+
			"server is expected (this command cannot see the gossip); with --api, the\n"+
			"name servers of the sites the running server sees live, as the leader keeps\n"+
			"them (a site in its grace period then shows as extra).\n"+
			"Exit status: 0 in sync, 1 differences, 2 errors.")
	file := fs.String("config", "", "configuration file (required)")
	zone := fs.String("zone", "", "check this zone only")
	api := fs.String("api", "", "base URL of a running server's HTTP API, for the live sites (GET /api/v1/sites)")
	server := fs.String("server", "", "the parent's server (host:port) for zones without a delegation section")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	if code, done := fs.parseCheck(args, file, stdout, stderr); done {
		return code
	}
	l, err := config.Load(config.Options{File: *file})
	if err != nil {
		printErrors(stderr, err)
		return checkError
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	var live map[string]bool // nil: every site
	if *api != "" {
		if live, err = liveSitesFrom(ctx, *api, l.State); err != nil {
			fmt.Fprintf(stderr, "meridian delegation check: --api: %v\n", err)
			return checkError
		}
	}
	code, checked, compared := checkInSync, 0, 0
	for i := range l.State.Zones {
		zd, configured := l.Delegation(i)
		if *zone != "" && zd.Zone != gslb.CanonicalName(*zone) {
			continue
		}
		checked++
		if !configured {
			if *server == "" {
				fmt.Fprintf(stdout, "%s: skipped: no delegation section (give --server to check it)\n", zd.Zone)
				if *zone != "" {
					code = checkError
				}
				continue
			}
			if zd.Server, err = delegation.ServerAddr(*server); err != nil {
				fs.fail(stderr, "--server: %v", err)
				return checkError
			}
			if zd.Parent == "" {
				fmt.Fprintf(stderr, "%s: no parent zone to check\n", zd.Zone)
				code = checkError
				continue
			}
		}
		compared++
		code = max(code, checkZone(ctx, stdout, stderr, zd, live))
	}
	switch {
	case checked == 0:
		fmt.Fprintf(stderr, "meridian delegation check: no zone %q in %s\n", *zone, *file)
		return checkError
	case compared == 0:
		// Nothing compared is not "in sync".
		fmt.Fprintf(stderr, "meridian delegation check: no zone of %s has a delegation section; give --server to check one\n", *file)
		return checkError
	}
	return code
}

// checkZone compares one zone's delegation and prints the result.
func checkZone(ctx context.Context, stdout, stderr io.Writer, zd config.ZoneDelegation, live map[string]bool) int {
	head := fmt.Sprintf("%s (parent %s at %s)", zd.Zone, zd.Parent, zd.Server)
	if live == nil { // no running server asked: every site counts as live
		live = map[string]bool{}
		for _, ns := range zd.NameServers {
			live[ns.Site] = true
		}
	}
	want, down := zd.Wanted(live)
	notLive := map[string]string{} // NS name -> its site, when the site is not live
	for _, ns := range down {
		notLive[ns.Name] = ns.Site
	}
	p := &delegation.RFC2136{Server: zd.Server, Parent: zd.Parent, Zone: zd.Zone}
	have, err := p.Read(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", head, err)
		return checkError
	}
	lines := delegation.Compute(zd.Zone, want, have).Lines()
	if len(lines) == 0 {
		fmt.Fprintf(stdout, "%s: in sync (%s)\n", head, strings.Join(have.Names(), " "))
		return checkInSync
	}
	fmt.Fprintf(stdout, "%s: %d differences\n", head, len(lines))
	for _, line := range lines {
		for name, site := range notLive {
			if strings.Contains(line, " "+name) {
				line += fmt.Sprintf(" (site %s is not live)", site)
				break
			}
		}
		fmt.Fprintf(stdout, "  %s\n", line)
	}
	return checkDiffer
}

// liveSitesFrom asks a running server which sites are live: those with
// an alive gossip member, or every site of a standalone server.
func liveSitesFrom(ctx context.Context, api string, st *gslb.State) (map[string]bool, error) {
	u, err := apiURL(api, "/api/v1/sites", nil)
	if err != nil {
		return nil, err
	}
	body, err := fetchAPI(ctx, u)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Mode    string         `json:"mode"`
		Members []sites.Member `json:"members"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("%s: not a sites response: %v", u, err)
	}
	if resp.Mode == "standalone" {
		resp.Members = nil // every site serves
	} else if resp.Members == nil {
		resp.Members = []sites.Member{} // gossip, and no member heard yet
	}
	return config.LiveSites(st, resp.Members), nil
}
