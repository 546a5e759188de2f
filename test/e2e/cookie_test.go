package e2e

import (
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// DNS cookies as dig sees them: a server cookie comes back, and dig,
// sending it again, reports it good. Two processes with the same
// dns.cookie_secret_file accept each other's cookies (RFC 9018).
func TestCookiesWithDig(t *testing.T) {
	t.Parallel()
	watchdog(t, time.Minute)
	dig := proctest.RequireTool(t, "dig", "bind9-dnsutils")
	dir := t.TempDir()
	writeFile(t, dir, "cookies", "000102030405060708090a0b0c0d0e0f\n")
	cfg := healthConfig(t, dir, []hsvc{{name: "app", policy: "{strategy: roundrobin, ttl: 30}", members: []string{"{site: a, addresses: [192.0.2.1]}"}}},
		"dns: {cookie_secret_file: cookies}\n")
	a, b := startHealthMeridian(t, cfg), startHealthMeridian(t, cfg)
	digAt := func(m *meridian, args ...string) string {
		t.Helper()
		host, port, _ := net.SplitHostPort(m.DNS[0])
		out, err := run(t, 15*time.Second, dig, append([]string{"@" + host, "-p", port, "app.health.test", "A"}, args...)...)
		if err != nil {
			t.Fatalf("dig: %v\n%s", err, out)
		}
		return out
	}
	out := digAt(a, "+cookie")
	m := regexp.MustCompile(`COOKIE: ([0-9a-f]{16})([0-9a-f]{32})`).FindStringSubmatch(out)
	if m == nil || !strings.HasPrefix(m[2], "01") {
		t.Fatalf("no server cookie (version 1) in the answer:\n%s", out)
	}
	// dig sends the full cookie back with +cookie=HEX and says "(good)"
	// when the server's response carries a server cookie for it.
	for _, srv := range []*meridian{a, b} {
		if out := digAt(srv, "+cookie="+m[1]+m[2]); !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, "(good)") {
			t.Errorf("the cookie sent again to %s:\n%s", srv.DNS[0], out)
		}
	}
}
