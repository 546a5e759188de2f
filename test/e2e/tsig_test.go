package e2e

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// TSIG as dig sees it (RFC 8945): signed with the configured key, a
// verified signed answer; with a key the server does not have, NOTAUTH
// with BADKEY (ISC's EDNS compliance test "tsig" failed here before).
func TestTSIGWithDig(t *testing.T) {
	t.Parallel()
	watchdog(t, time.Minute)
	dig := proctest.RequireTool(t, "dig", "bind9-dnsutils")
	dir := t.TempDir()
	const secret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	writeFile(t, dir, "monitor.key", secret+"\n")
	cfg := healthConfig(t, dir, []hsvc{{name: "app", policy: "{strategy: roundrobin, ttl: 30}", members: []string{"{site: a, addresses: [192.0.2.1]}"}}},
		"dns: {tsig_keys: [{name: monitor.example., secret_file: monitor.key}]}\n")
	m := startHealthMeridian(t, cfg)
	host, port, _ := net.SplitHostPort(m.DNS[0])

	out, err := run(t, 15*time.Second, dig, "@"+host, "-p", port, "-y", "hmac-sha256:monitor.example:"+secret, "app.health.test", "A")
	if err != nil || !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, "192.0.2.1") ||
		!strings.Contains(out, "TSIG PSEUDOSECTION") || strings.Contains(out, "failure") {
		t.Errorf("dig with the server's key (err %v):\n%s", err, out)
	}
	out, _ = run(t, 15*time.Second, dig, "@"+host, "-p", port, "-y", "hmac-sha256:stranger.example:"+secret, "app.health.test", "A")
	if !strings.Contains(out, "status: NOTAUTH") || !strings.Contains(out, "BADKEY") {
		t.Errorf("dig with an unknown key: want NOTAUTH and BADKEY:\n%s", out)
	}
}
