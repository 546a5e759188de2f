package dnsserver_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/dnsserver/dnstest"
)

// TestLoadServer runs the demo server on MERIDIAN_LOAD_ADDR for
// MERIDIAN_LOAD_SECONDS and writes w1/w2-like query files (dnsperf -B
// format) to MERIDIAN_LOAD_DIR, for manual runs of a load generator such
// as shared/bench's dnsload. Skipped unless MERIDIAN_LOAD_ADDR is set.
func TestLoadServer(t *testing.T) {
	addr := os.Getenv("MERIDIAN_LOAD_ADDR")
	if addr == "" {
		t.Skip("MERIDIAN_LOAD_ADDR not set")
	}
	secs, _ := strconv.Atoi(os.Getenv("MERIDIAN_LOAD_SECONDS"))
	st := dnstest.Demo()
	for i := range 1000 {
		st.Zones[0].Records = append(st.Zones[0].Records, fmt.Sprintf("www%d 30 IN A 10.1.%d.%d", i, i/256, i%256))
	}
	if dir := os.Getenv("MERIDIAN_LOAD_DIR"); dir != "" {
		r := rand.New(rand.NewPCG(1, 1))
		var w1, w2 []byte
		for i := range 100000 {
			name := "app.gslb.example."
			if i%5 != 0 {
				name = fmt.Sprintf("www%d.gslb.example.", r.IntN(1000))
			}
			m := new(dns.Msg)
			m.SetQuestion(name, dns.TypeA)
			b, _ := m.Pack()
			w1 = append(binary.BigEndian.AppendUint16(w1, uint16(len(b))), b...)
			m = new(dns.Msg)
			m.SetQuestion("app.gslb.example.", dns.TypeA)
			m.RecursionDesired = false
			prefixes := []string{"81.2.69.0/24", "202.12.27.0/24", "8.8.8.0/24", fmt.Sprintf("%d.%d.%d.0/24", 1+r.IntN(222), r.IntN(256), r.IntN(256))}
			m.SetEdns0(1232, false)
			o := m.IsEdns0()
			o.Option = append(o.Option, subnet(prefixes[r.IntN(len(prefixes))]))
			b, _ = m.Pack()
			w2 = append(binary.BigEndian.AppendUint16(w2, uint16(len(b))), b...)
		}
		os.WriteFile(dir+"/w1.bin", w1, 0o644)
		os.WriteFile(dir+"/w2.bin", w2, 0o644)
	}
	s, err := dnsserver.New(dnsserver.Config{Listen: []string{addr}, Logger: dnstest.Quiet()}, dnstest.Store(t, st))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Duration(secs) * time.Second)
	s.Shutdown(t.Context())
}
