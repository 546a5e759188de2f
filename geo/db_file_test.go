package geo

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// answer is what DB.locate returns for one address.
type answer struct {
	loc Location
	p   netip.Prefix
	ok  bool
}

func locateAll(db *DB, addrs []netip.Addr) []answer {
	out := make([]answer, len(addrs))
	for i, a := range addrs {
		out[i].loc, out[i].p, out[i].ok = db.locate(a)
	}
	return out
}

// probeAddrs returns n addresses that exercise the whole fixture: the
// cityCases, random hosts inside each of their networks (hits, through
// every record), and random IPv4 and IPv6 addresses (mostly misses, which
// walk the tree too). Deterministic.
func probeAddrs(n int) []netip.Addr {
	r := rand.New(rand.NewPCG(11, 11))
	var nets []netip.Prefix
	var out []netip.Addr
	for _, c := range cityCases {
		a := addr(c.addr).Unmap()
		out = append(out, a)
		nets = append(nets, c.want.Prefix)
	}
	for len(out) < n {
		var b [16]byte
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		switch r.IntN(4) {
		case 0, 1: // a host in a fixture network
			p := nets[r.IntN(len(nets))]
			if p.Addr().Is4() {
				b4 := [4]byte(b[:4])
				out = append(out, mixBits(p, netip.AddrFrom4(b4)))
			} else {
				out = append(out, mixBits(p, netip.AddrFrom16(b)))
			}
		case 2:
			out = append(out, netip.AddrFrom4([4]byte(b[:4])))
		default:
			b[0] = 0x20 | b[0]&0x1f // 2000::/3, where the fixture's IPv6 networks are
			out = append(out, netip.AddrFrom16(b))
		}
	}
	return out
}

// mixBits returns p's network bits followed by host's host bits.
func mixBits(p netip.Prefix, host netip.Addr) netip.Addr {
	n, h := p.Masked().Addr().AsSlice(), host.AsSlice()
	for i := range n {
		keep := 0
		if bits := p.Bits() - 8*i; bits >= 8 {
			keep = 0xff
		} else if bits > 0 {
			keep = 0xff << (8 - bits) & 0xff
		}
		n[i] = n[i]&byte(keep) | h[i]&^byte(keep)
	}
	a, _ := netip.AddrFromSlice(n)
	return a
}

// TestOpenSurvivesFileChanges is issue 11's attack: the database file of an
// open DB is truncated, rewritten in place, renamed over or deleted. With
// the file memory-mapped, the first lookup after an in-place truncation
// died of SIGBUS (the whole test binary with it); now the DB answers from
// its copy, exactly as before, whatever happens to the file. Open of each
// broken file is an error that names it, and a good file renamed over the
// path opens as the new database without disturbing the old one.
func TestOpenSurvivesFileChanges(t *testing.T) {
	orig, err := os.ReadFile(cityDB)
	if err != nil {
		t.Fatal(err)
	}
	country, err := os.ReadFile(countryDB)
	if err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, len(orig))
	for i := range garbage {
		garbage[i] = byte(i*131 + 7)
	}
	ref, err := OpenBytes(bytes.Clone(orig))
	if err != nil {
		t.Fatal(err)
	}
	addrs := probeAddrs(5000)
	want := locateAll(ref, addrs)

	// inPlace rewrites the file through its own inode, as cp does.
	inPlace := func(b []byte) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	renameOver := func(b []byte) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			tmp := path + ".new"
			if err := os.WriteFile(tmp, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name     string
		mutate   func(t *testing.T, path string)
		sameFile bool   // the mutation keeps the inode: the mmap killer
		openErr  string // what Open of the result says besides the path; "" = opens
	}{
		{"truncate to 0", func(t *testing.T, path string) {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}, true, "file is empty"},
		{"rewrite in place with garbage", inPlace(garbage), true, "invalid MaxMind DB file"},
		{"rewrite in place with half the file", inPlace(orig[:len(orig)/2]), true, "invalid MaxMind DB file"},
		{"rename garbage over", renameOver(garbage), false, "invalid MaxMind DB file"},
		{"rename another database over", renameOver(country), false, ""},
		{"delete", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, false, "no such file or directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "city.mmdb")
			if err := os.WriteFile(path, orig, 0o644); err != nil {
				t.Fatal(err)
			}
			db := openDB(t, path)
			before, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := locateAll(db, addrs); !equalAnswers(t, "before the change", addrs, got, want) {
				return
			}

			// Queries run while the file changes, as they would in a server.
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := g; ; i = (i + 7) % len(addrs) {
						select {
						case <-stop:
							return
						default:
						}
						var got answer
						got.loc, got.p, got.ok = db.locate(addrs[i])
						if got != want[i] {
							t.Errorf("during the change: locate(%s) = %+v, want %+v", addrs[i], got, want[i])
							return
						}
					}
				}()
			}
			c.mutate(t, path)
			close(stop)
			wg.Wait()

			if after, err := os.Stat(path); c.sameFile && (err != nil || !os.SameFile(before, after)) {
				t.Fatalf("the mutation was meant to keep the file's inode (stat: %v)", err)
			}
			// Start cold, so every lookup walks the tree and decodes its
			// record from the DB's bytes again rather than from a cache.
			db.nets.clear()
			db.cache = newRecordCache(db.r.Metadata.NodeCount)
			for range 3 {
				if !equalAnswers(t, "after the change", addrs, locateAll(db, addrs), want) {
					return
				}
			}

			// Open sees the file as it is now.
			db2, err := Open(path)
			switch {
			case c.openErr == "" && err != nil:
				t.Errorf("Open after the change: %v", err)
			case c.openErr == "":
				defer db2.Close()
				if typ, _, _ := db2.Metadata(); typ != "GeoLite2-Country" {
					t.Errorf("Open after the change opened %q, want the new GeoLite2-Country file", typ)
				}
				// Old DB unchanged, and the new one is really another DB.
				if l, _, _ := db2.locate(addr("8.8.8.8")); l != countryOnly("US") {
					t.Errorf("new DB locates 8.8.8.8 at %+v, want %+v", l, countryOnly("US"))
				}
				equalAnswers(t, "after opening the new file", addrs, locateAll(db, addrs), want)
			case err == nil:
				db2.Close()
				t.Errorf("Open after the change: no error, want one naming %s", path)
			case !strings.Contains(err.Error(), "geo: open "+path+": ") || !strings.Contains(err.Error(), c.openErr):
				t.Errorf("Open after the change = %v, want an error naming %s with %q", err, path, c.openErr)
			}
		})
	}
}

// equalAnswers reports whether got is want, failing t on the first few
// differences.
func equalAnswers(t *testing.T, when string, addrs []netip.Addr, got, want []answer) bool {
	t.Helper()
	bad := 0
	for i := range want {
		if got[i] != want[i] {
			if bad++; bad <= 5 {
				t.Errorf("%s: locate(%s) = %+v, want %+v", when, addrs[i], got[i], want[i])
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d of %d lookups differ", when, bad, len(want))
	}
	return bad == 0
}

// TestOpenReadsIntoMemory: the DB holds its own copy of the file, so its
// bytes are not a mapping: a write to the file shows nowhere in them.
func TestOpenReadsIntoMemory(t *testing.T) {
	orig, err := os.ReadFile(cityDB)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "city.mmdb")
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, path)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Overwrite without truncating: a mapping would see this at once.
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xff}, len(orig)), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	runLocate(t, newLocator(t, db), cityCases)
}
