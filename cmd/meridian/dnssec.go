package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/dnsserver/dnssec"
	"github.com/meridian-gslb/meridian/gslb"
)

const dnssecUsage = `Usage: meridian dnssec COMMAND [flags]

Commands:
  keygen   generate a key pair for a zone (BIND's file format)
  ds       print the DS records the parent zone publishes (the trust anchor)
  status   show each signed zone's keys, and with --server what a server publishes

docs/dnssec.md walks through signing a zone and rolling its keys.
`

func runDNSSEC(args []string, stdout, stderr io.Writer) int {
	return runSub(args, dnssecUsage, map[string]func([]string, io.Writer, io.Writer) int{
		"keygen": runDNSSECKeygen, "ds": runDNSSECDS, "status": runDNSSECStatus,
	}, exitUsage, stdout, stderr)
}

func runDNSSECKeygen(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("dnssec keygen", "meridian dnssec keygen --zone NAME --dir DIR [--algorithm ALG] [--role csk|ksk|zsk]",
		"Generate a key pair and write it as DIR/K<zone>+<alg>+<tag>.key and .private\n"+
			"(mode 0600; an existing pair is never overwritten). Print the key's name, for\n"+
			"zones[].dnssec.keys[].name; copy both files to every site's\n"+
			"dns.dnssec_key_directory (or its Kubernetes Secret).")
	zone := fs.String("zone", "", "the zone the key signs (required)")
	dir := fs.String("dir", "", "directory for the key files (required)")
	alg := fs.String("algorithm", "ecdsap256sha256", "13/ecdsap256sha256 or 15/ed25519")
	role := fs.String("role", "csk", "csk (signs everything), ksk (signs the DNSKEY RRset) or zsk (signs the rest)")
	if code, done := fs.parse(args, stdout, stderr); done {
		return code
	}
	if *zone == "" || *dir == "" || fs.NArg() != 0 {
		return fs.fail(stderr, "want --zone and --dir, and no arguments")
	}
	a, err := dnssec.ParseAlgorithm(*alg)
	if err != nil {
		return fs.fail(stderr, "--algorithm: %v", err)
	}
	flags := dnssec.FlagsKSK
	switch strings.ToLower(*role) {
	case "csk", "ksk":
	case "zsk":
		flags = dnssec.FlagsZSK
	default:
		return fs.fail(stderr, "--role: want csk, ksk or zsk, got %q", *role)
	}
	k, err := dnssec.Generate(*zone, a, flags)
	if err != nil {
		fmt.Fprintf(stderr, "meridian dnssec keygen: %v\n", err)
		return exitFail
	}
	// The directory holds private keys: made for its owner alone.
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		fmt.Fprintf(stderr, "meridian dnssec keygen: %v\n", err)
		return exitFail
	}
	pub, priv, err := dnssec.WriteFiles(*dir, k)
	if err != nil {
		fmt.Fprintf(stderr, "meridian dnssec keygen: %v\n", err)
		return exitFail
	}
	fmt.Fprintln(stdout, dnssec.KeyName(k))
	fmt.Fprintf(stderr, "wrote %s and %s (%s, tag %d)\n", pub, priv, dnssec.Role(k), k.Tag)
	return exitOK
}

func runDNSSECDS(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("dnssec ds", "meridian dnssec ds (--config FILE [--zone NAME] | KEYFILE.key ...)",
		"Print the DS record (SHA-256, RFC 8624) of each key-signing key of the signed\n"+
			"zones in the configuration, or of the given .key files: what the parent zone\n"+
			"publishes, and what a validating resolver takes as a trust anchor\n"+
			"(unbound: trust-anchor: \"<DS record>\"). Keys in state published are\n"+
			"printed too: a KSK rollover adds the new DS before the new key signs.")
	file := fs.String("config", "", "configuration file")
	zone := fs.String("zone", "", "this zone only")
	if code, done := fs.parse(args, stdout, stderr); done {
		return code
	}
	if (*file == "") == (fs.NArg() == 0) {
		return fs.fail(stderr, "want --config FILE or .key files, not both")
	}
	var keys []*dnssec.Key
	if *file != "" {
		zs, err := signedZones(*file, *zone)
		if err != nil {
			printErrors(stderr, err)
			return exitFail
		}
		for _, z := range zs {
			keys = append(keys, z.keys...)
		}
	}
	for _, path := range fs.Args() {
		k, err := dnssec.LoadFiles(path)
		if err != nil {
			fmt.Fprintf(stderr, "meridian dnssec ds: %v\n", err)
			return exitFail
		}
		keys = append(keys, k)
	}
	n := 0
	for _, k := range keys {
		if k.IsKSK() {
			fmt.Fprintln(stdout, dnssec.DS(k).String())
			n++
		}
	}
	if n == 0 {
		fmt.Fprintln(stderr, "meridian dnssec ds: no key-signing key (flags 257) among the keys")
		return exitFail
	}
	return exitOK
}

func runDNSSECStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("dnssec status", "meridian dnssec status --config FILE [--zone NAME] [--server HOST:PORT]",
		"List each signed zone's keys (name, role, algorithm, tag, state) and the DS of\n"+
			"its key-signing keys. With --server, also ask that server (over TCP, DO=1) for\n"+
			"the zone's DNSKEY and SOA RRsets: the keys it publishes must be the configured\n"+
			"ones and both RRsets must carry valid signatures.\n"+
			"Exit status: 0 in order, 1 differences, 2 errors.")
	file := fs.String("config", "", "configuration file (required)")
	zone := fs.String("zone", "", "this zone only")
	server := fs.String("server", "", "a running server to check, host:port")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	if code, done := fs.parseCheck(args, file, stdout, stderr); done {
		return code
	}
	zs, err := signedZones(*file, *zone)
	if err != nil {
		printErrors(stderr, err)
		return checkError
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	code := checkInSync
	for _, z := range zs {
		fmt.Fprintf(stdout, "zone %s\n", z.name)
		for i, k := range z.keys {
			state := config.KeyActive
			if k.Standby {
				state = config.KeyPublished
			}
			fmt.Fprintf(stdout, "  %s  %s  algorithm %d  tag %d  %s\n", z.names[i], dnssec.Role(k), k.DNSKEY.Algorithm, k.Tag, state)
			if k.IsKSK() {
				fmt.Fprintf(stdout, "    DS %s\n", dnssec.DS(k).String())
			}
		}
		if *server == "" {
			continue
		}
		s, err := dnssec.CheckServed(ctx, *server, z.name, z.keys)
		if err != nil {
			fmt.Fprintf(stdout, "  server %s: %v\n", *server, err)
			code = checkError
			continue
		}
		fmt.Fprintf(stdout, "  server %s publishes tags %v; DNSKEY signed by %v, SOA by %v; first signature expires %s\n",
			*server, s.Tags, s.DNSKEYSigners, s.SOASigners, s.Expires.UTC().Format(time.RFC3339))
		if !s.OK() {
			fmt.Fprintf(stdout, "  DIFFERS: missing %v, unexpected %v\n", s.Missing, s.Extra)
			code = max(code, checkDiffer)
		}
	}
	return code
}

// signedZone is a signed zone of a configuration with its keys loaded.
type signedZone struct {
	name  string
	names []string // the keys' file names
	keys  []*dnssec.Key
}

// signedZones loads the configuration (which checks every key) and
// returns its signed zones, or only zone.
func signedZones(file, zone string) ([]signedZone, error) {
	l, err := config.Load(config.Options{File: file})
	if err != nil {
		return nil, err
	}
	var out []signedZone
	for i := range l.State.Zones {
		z := &l.State.Zones[i]
		if z.DNSSEC == nil || zone != "" && gslb.CanonicalName(zone) != z.Name {
			continue
		}
		// The keys as a site loads them (a Secret's "_" names included).
		keys, err := dnsserver.ZoneKeys(z, l.Config.DNS.DNSSECKeyDirectory)
		if err != nil {
			return nil, fmt.Errorf("zone %s: %w", z.Name, err)
		}
		sz := signedZone{name: z.Name, keys: keys}
		for _, kc := range z.DNSSEC.Keys {
			sz.names = append(sz.names, kc.Name)
		}
		out = append(out, sz)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no signed zone%s (zones[].dnssec)", file, map[bool]string{true: " " + zone, false: ""}[zone != ""])
	}
	return out, nil
}
