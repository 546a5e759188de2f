// Command genscale writes a generated scale configuration to stdout (see
// package scale and docs/performance.md, "Scale"):
//
//	go run ./test/scale/genscale -services 100000 -sites 5 -members 5 -check shared-tcp > /tmp/scale.yaml
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"

	"github.com/meridian-gslb/meridian/test/scale"
)

func main() {
	var o scale.Options
	var check, probe string
	flag.IntVar(&o.Services, "services", 100_000, "services")
	flag.IntVar(&o.Sites, "sites", 5, "sites")
	flag.IntVar(&o.Members, "members", 3, "members per service (at most -sites)")
	flag.StringVar(&check, "check", string(scale.CheckNone), "health: none | shared-tcp | per-service-none")
	flag.StringVar(&o.DNSListen, "dns", "127.0.0.1:5353", "DNS listen address")
	flag.StringVar(&o.HTTPListen, "http", "127.0.0.1:8053", "HTTP listen address")
	flag.StringVar(&probe, "probe", "127.77.0.1", "first probe address (shared-tcp): site i is probed at probe+i")
	flag.IntVar(&o.ProbePort, "probe-port", 7070, "probe port (shared-tcp)")
	flag.IntVar(&o.Variant, "variant", 0, "change service variant%services's TTL, for a one-service edit")
	flag.Parse()
	o.Check = scale.Check(check)
	var err error
	if o.ProbeBase, err = netip.ParseAddr(probe); err != nil {
		fmt.Fprintln(os.Stderr, "genscale: -probe:", err)
		os.Exit(2)
	}
	if err := scale.Write(os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "genscale:", err)
		os.Exit(1)
	}
}
