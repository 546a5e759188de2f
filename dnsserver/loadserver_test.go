//go:build loadserver

// This file is a manual load harness, not a test: it is built only with
// -tags loadserver, so `go test ./...` (and CI) never sees a test that
// cannot run there.

package dnsserver_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
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
// as shared/bench's dnsload:
//
//	MERIDIAN_LOAD_ADDR=127.0.0.1:5300 MERIDIAN_LOAD_SECONDS=60 \
//	  go test -tags loadserver -run TestLoadServer -timeout 0 ./dnsserver/
func TestLoadServer(t *testing.T) {
	addr := os.Getenv("MERIDIAN_LOAD_ADDR")
	if addr == "" {
		t.Fatal("MERIDIAN_LOAD_ADDR is required: the host:port to serve on")
	}
	secs, err := strconv.Atoi(os.Getenv("MERIDIAN_LOAD_SECONDS"))
	if err != nil || secs <= 0 {
		t.Fatalf("MERIDIAN_LOAD_SECONDS=%q: want a positive number of seconds", os.Getenv("MERIDIAN_LOAD_SECONDS"))
	}
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
			b, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			w1 = append(binary.BigEndian.AppendUint16(w1, uint16(len(b))), b...)
			m = new(dns.Msg)
			m.SetQuestion("app.gslb.example.", dns.TypeA)
			m.RecursionDesired = false
			prefixes := []string{"81.2.69.0/24", "202.12.27.0/24", "8.8.8.0/24", fmt.Sprintf("%d.%d.%d.0/24", 1+r.IntN(222), r.IntN(256), r.IntN(256))}
			m.SetEdns0(1232, false)
			o := m.IsEdns0()
			o.Option = append(o.Option, subnet(prefixes[r.IntN(len(prefixes))]))
			if b, err = m.Pack(); err != nil {
				t.Fatal(err)
			}
			w2 = append(binary.BigEndian.AppendUint16(w2, uint16(len(b))), b...)
		}
		for name, data := range map[string][]byte{"w1.bin": w1, "w2.bin": w2} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatalf("MERIDIAN_LOAD_DIR: %v", err)
			}
		}
	}
	s, err := dnsserver.New(dnsserver.Config{Listen: []string{addr}, Logger: dnstest.Quiet()}, dnstest.Store(t, st))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Duration(secs) * time.Second)
	if err := s.Shutdown(t.Context()); err != nil {
		t.Error(err)
	}
}
