package main

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// fakeParent serves example.'s delegation of gslb.example. to ns1 with
// the glue given, as a parent's referral.
func fakeParent(t *testing.T, glue string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if q := r.Question[0]; q.Name == "gslb.example." && q.Qtype == dns.TypeNS {
			ns, _ := dns.NewRR("gslb.example. 300 IN NS ns1.gslb.example.")
			a, _ := dns.NewRR("ns1.gslb.example. 300 IN A " + glue)
			m.Ns, m.Extra = []dns.RR{ns}, []dns.RR{a}
		} else {
			m.Rcode = dns.RcodeRefused
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func runCheck(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(append([]string{"delegation", "check"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestDelegationCheck(t *testing.T) {
	const cfg = "../../config/testdata/good.yaml" // gslb.example.: ns1 127.0.0.1, no delegation section

	good := fakeParent(t, "127.0.0.1")
	if code, out, errOut := runCheck("--config", cfg, "--zone", "gslb.example", "--server", good); code != 0 || !strings.Contains(out, "gslb.example. (parent example. at "+good+"): in sync") {
		t.Errorf("in sync: exit %d\n%s%s", code, out, errOut)
	}
	bad := fakeParent(t, "127.0.0.9")
	code, out, errOut := runCheck("--config", cfg, "--zone", "gslb.example.", "--server", bad)
	if code != 1 || !strings.Contains(out, "wrong glue ns1.gslb.example. A: parent has 127.0.0.9, want 127.0.0.1") {
		t.Errorf("wrong glue: exit %d\n%s%s", code, out, errOut)
	}
	// A parent that cannot answer (static.example.'s refuses) is an
	// error, which outranks the differences.
	if code, out, errOut := runCheck("--config", cfg, "--server", bad); code != 2 || !strings.Contains(errOut, "answered REFUSED to static.example. NS") {
		t.Errorf("refused: exit %d\n%s%s", code, out, errOut)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no config", nil, "want --config FILE"},
		{"no such zone", []string{"--config", cfg, "--zone", "other.example"}, `no zone "other.example"`},
		{"nothing to compare", []string{"--config", cfg}, "no zone of " + cfg + " has a delegation section"},
		{"bad server", []string{"--config", cfg, "--server", "a:b:c"}, "--server: want host:port"},
		{"bad config", []string{"--config", "nothere.yaml"}, "nothere.yaml"},
	} {
		if code, out, errOut := runCheck(tc.args...); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, want 2 and %q\n%s%s", tc.name, code, tc.want, out, errOut)
		}
	}
	var out2, err2 bytes.Buffer
	if code := run([]string{"delegation"}, &out2, &err2); code != 2 || !strings.Contains(err2.String(), "delegation check --config FILE") {
		t.Errorf("delegation alone: exit %d\n%s", code, err2.String())
	}
}
