package e2e

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// ISC's EDNS compliance tests (genreport, https://gitlab.isc.org/isc-projects/DNS-Compliance-Testing),
// re-expressed: each is the dig command its documentation lists, against
// the demo zone, with the outcome genreport counts as "ok". genreport is
// not packaged; `make conformance GENREPORT=path` runs the real one.
func TestEDNSCompliance(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	dig := proctest.RequireTool(t, "dig", "bind9-dnsutils")
	d := startDemo(t)
	host, port, _ := net.SplitHostPort(d.DNS[0])
	const zone = "gslb.example."

	soaAnswer := regexp.MustCompile(`(?m)^gslb\.example\.\s+\d+\s+IN\s+SOA\s`)
	ednsVersion0 := regexp.MustCompile(`; EDNS: version: 0,`)
	has := func(s string) func(string) bool { return func(out string) bool { return strings.Contains(out, s) } }
	not := func(f func(string) bool) func(string) bool { return func(out string) bool { return !f(out) } }
	flag := func(f string) func(string) bool {
		return func(out string) bool { return parseDig(out).flags[f] }
	}
	status := func(s string) func(string) bool { return func(out string) bool { return parseDig(out).status == s } }
	noEDNS := not(has("OPT PSEUDOSECTION"))
	noMBZ := not(has("MBZ"))

	for _, tc := range []struct {
		name  string
		args  []string
		wants map[string]func(string) bool
	}{
		{"dns", []string{"+noedns", "+noad", "+norec", zone, "SOA"}, map[string]func(string) bool{
			"NOERROR": status("NOERROR"), "the SOA": soaAnswer.MatchString, "no OPT": noEDNS, "aa": flag("aa")}},
		{"aa", []string{"+noedns", "+noad", "+norec", "+aaflag", zone, "SOA"}, map[string]func(string) bool{
			"NOERROR": status("NOERROR"), "the SOA": soaAnswer.MatchString, "aa": flag("aa")}},
		{"ad", []string{"+noedns", "+norec", "+adflag", zone, "SOA"}, map[string]func(string) bool{
			"NOERROR": status("NOERROR"), "no ad (nothing validated)": not(flag("ad"))}},
		{"cd", []string{"+noedns", "+noad", "+norec", "+cdflag", zone, "SOA"}, map[string]func(string) bool{
			"NOERROR": status("NOERROR"), "the SOA": soaAnswer.MatchString}},
		{"ra", []string{"+noedns", "+noad", "+norec", "+raflag", zone, "SOA"}, map[string]func(string) bool{
			"NOERROR": status("NOERROR"), "no ra": not(flag("ra"))}},
		{"rd", []string{"+noedns", "+noad", "+rec", zone, "SOA"}, map[string]func(string) bool{
			"NOERROR": status("NOERROR"), "rd copied": flag("rd"), "no ra": not(flag("ra"))}},
		{"tc", []string{"+noedns", "+noad", "+norec", "+tcflag", zone, "SOA"}, map[string]func(string) bool{
			"NOERROR": status("NOERROR"), "the SOA": soaAnswer.MatchString, "no tc": not(flag("tc"))}},
		{"zflag", []string{"+noedns", "+noad", "+norec", "+zflag", zone, "SOA"}, map[string]func(string) bool{
			"NOERROR": status("NOERROR"), "Z clear": noMBZ}},
		{"opcode", []string{"+noedns", "+noad", "+norec", "+opcode=15", zone, "SOA"}, map[string]func(string) bool{
			"NOTIMP": status("NOTIMP"), "no SOA": not(soaAnswer.MatchString)}},
		{"opcodeflg", []string{"+noedns", "+opcode=15", "+norec", "+tcflag", "+rec", "+raflag", "+cdflag", "+adflag", "+aaflag", "+zflag", zone, "SOA"}, map[string]func(string) bool{
			"NOTIMP": status("NOTIMP"), "flags: qr alone": has(";; flags: qr;"), "Z clear": noMBZ}},
		{"type666", []string{"+noedns", "+noad", "+norec", zone, "TYPE666"}, map[string]func(string) bool{
			"NOERROR": status("NOERROR"), "no answer": has("ANSWER: 0,")}},
		{"tcp", []string{"+noedns", "+noad", "+norec", "+tcp", zone, "SOA"}, map[string]func(string) bool{
			"NOERROR": status("NOERROR"), "the SOA": soaAnswer.MatchString}},
		{"edns", []string{"+edns=0", "+nocookie", "+noad", "+norec", zone, "SOA"}, map[string]func(string) bool{
			"NOERROR": status("NOERROR"), "EDNS version 0": ednsVersion0.MatchString}},
		{"edns1", []string{"+edns=1", "+noednsneg", "+nocookie", "+noad", "+norec", zone, "SOA"}, map[string]func(string) bool{
			"BADVERS": status("BADVERS"), "EDNS version 0": ednsVersion0.MatchString, "no SOA": not(soaAnswer.MatchString)}},
		{"edns@512", []string{"+edns=0", "+dnssec", "+bufsize=512", "+ignore", "+nocookie", "+noad", "+norec", zone, "DNSKEY"}, map[string]func(string) bool{
			"NOERROR": status("NOERROR"), "EDNS version 0": ednsVersion0.MatchString, "512 bytes at most": func(out string) bool {
				m := regexp.MustCompile(`MSG SIZE\s+rcvd: (\d+)`).FindStringSubmatch(out)
				if m == nil {
					return false
				}
				n, err := strconv.Atoi(m[1])
				return err == nil && n <= 512
			}}},
		{"ednsopt", []string{"+edns=0", "+nocookie", "+noad", "+norec", "+ednsopt=100", zone, "SOA"}, map[string]func(string) bool{
			"NOERROR": status("NOERROR"), "EDNS version 0": ednsVersion0.MatchString, "option 100 not echoed": not(has("OPT=100"))}},
		{"edns1opt", []string{"+edns=1", "+noednsneg", "+nocookie", "+noad", "+norec", "+ednsopt=100", zone, "SOA"}, map[string]func(string) bool{
			"BADVERS": status("BADVERS"), "EDNS version 0": ednsVersion0.MatchString, "option 100 not echoed": not(has("OPT=100"))}},
		{"do", []string{"+edns=0", "+nocookie", "+noad", "+norec", "+dnssec", zone, "SOA"}, map[string]func(string) bool{
			"NOERROR": status("NOERROR"), "DO copied": has("flags: do;")}},
		{"ednsflags", []string{"+edns=0", "+nocookie", "+noad", "+norec", "+ednsflags=0x80", zone, "SOA"}, map[string]func(string) bool{
			"NOERROR": status("NOERROR"), "the unknown EDNS flag cleared": noMBZ}},
		{"optlist", []string{"+edns=0", "+noad", "+norec", "+nsid", "+subnet=0.0.0.0/0", "+expire", "+cookie", zone, "SOA"}, map[string]func(string) bool{
			"NOERROR": status("NOERROR"), "a cookie": regexp.MustCompile(`COOKIE: [0-9a-f]{48}`).MatchString,
			"the subnet": has("CLIENT-SUBNET: 0.0.0.0/0/0"), "no EXPIRE (not a secondary)": not(has("EXPIRE"))}},
		{"ednstcp", []string{"+edns=0", "+nocookie", "+noad", "+norec", "+tcp", zone, "SOA"}, map[string]func(string) bool{
			"NOERROR": status("NOERROR"), "EDNS version 0": ednsVersion0.MatchString}},
		{"tsig", []string{"+noedns", "+norec", "-y", "hmac-sha256:genreport.example:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", zone, "SOA"}, map[string]func(string) bool{
			"NOTAUTH": status("NOTAUTH"), "BADKEY": has("BADKEY")}},
	} {
		out, _ := run(t, 15*time.Second, dig, append([]string{"@" + host, "-p", port}, tc.args...)...)
		for what, ok := range tc.wants {
			if !ok(out) {
				t.Errorf("%s (dig %s): want %s:\n%s", tc.name, strings.Join(tc.args, " "), what, out)
			}
		}
	}
}
