package geo

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// compiledCase is one locator and split set that the compile tests run.
type compiledCase struct {
	name   string
	db     string // fixture path, "" for none
	rules  []Rule
	splits []netip.Prefix
}

func compiledCases() []compiledCase {
	rules := []Rule{
		{Prefix: pfx("8.8.0.0/16"), Site: "us"},
		{Prefix: pfx("8.8.8.128/25"), Location: dublinRule},
		{Prefix: pfx("10.0.0.0/8"), Location: europeOnly},
		{Prefix: pfx("81.2.69.0/26"), Location: tokyo},
		{Prefix: pfx("2600:1::/32"), Site: "eu"},
		{Prefix: pfx("2002:5102::/32"), Location: sydney}, // inside the 6to4 alias of 81.2.0.0/16
	}
	splits := []netip.Prefix{
		pfx("8.0.0.0/8"), pfx("8.8.8.0/24"), pfx("185.0.128.0/17"), pfx("0.0.0.0/1"),
		pfx("2600::/12"), pfx("2400:cb00:1::/48"),
	}
	var cs []compiledCase
	for _, db := range []string{"", cityDB, countryDB, city4DB, demoDB} {
		cs = append(cs,
			compiledCase{name: db + "/plain", db: db},
			compiledCase{name: db + "/rules", db: db, rules: rules},
			compiledCase{name: db + "/splits", db: db, splits: splits},
			compiledCase{name: db + "/both", db: db, rules: rules, splits: splits},
		)
	}
	return cs
}

// leafTable interns (place, split) pairs as leaf values, so a tree
// compiled with its classify answers which pair every address gets.
type leafTable map[leafKey]uint32

type leafKey struct {
	m     Match
	split int
}

func (lt leafTable) value(m Match, split int) uint32 {
	m.Prefix = netip.Prefix{}
	k := leafKey{m, split}
	v, ok := lt[k]
	if !ok {
		v = uint32(len(lt))
		lt[k] = v
	}
	return v
}

// longestSplit is the reference for Classifier's split: the longest split
// network of a's family that holds a.
func longestSplit(splits []netip.Prefix, a netip.Addr) int {
	a = a.Unmap()
	best := -1
	for i, p := range splits {
		if p.Contains(a) && (best < 0 || p.Bits() > splits[best].Bits()) {
			best = i
		}
	}
	return best
}

// compileAddrs adds to fixtureAddrs the database's aliases of the IPv4
// space and the edges of the rules and splits.
func compileAddrs(r *rand.Rand, n int, c compiledCase) []netip.Addr {
	out := fixtureAddrs(r, n)
	extra := []netip.Prefix{pfx("2002::/16"), pfx("2001::/32"), pfx("::/96"), pfx("::ffff:0:0/96"), pfx("2002:5102::/24")}
	for _, rule := range c.rules {
		extra = append(extra, rule.Prefix)
	}
	extra = append(extra, c.splits...)
	for i := range out {
		if i%3 != 0 {
			continue
		}
		p := extra[r.IntN(len(extra))]
		if b := p.Bits() - 1 - r.IntN(3); b > 0 && r.IntN(2) == 0 {
			p, _ = p.Addr().Prefix(b) // around the network, not only in it
		}
		out[i] = randomIn(r, p)
	}
	return out
}

// TestCompileMatchesLocate is the compiled tree's property test: for
// random addresses, the leaf a tree gives is what Locate and the split
// give, and every address inside the prefix it reports gets the same.
func TestCompileMatchesLocate(t *testing.T) {
	for _, skip := range []bool{false, true} {
		for _, c := range compiledCases() {
			t.Run(fmt.Sprintf("%s/skip=%v", c.name, skip), func(t *testing.T) {
				if skip {
					// The fixtures' trees are small: give them the index
					// of the first 16 bits that large trees get.
					defer func(n int) { skipMinNodes = n }(skipMinNodes)
					skipMinNodes = 0
				}
				var db *DB
				if c.db != "" {
					db = openDB(t, c.db)
				}
				checkCompiled(t, newLocator(t, db, c.rules...), c, 1500)
			})
		}
	}
}

// TestCompileBigDB runs the property test over a database of the
// benchmark kit's shape (2.1M networks, 1.9M nodes): the one named by
// MERIDIAN_GEODB, else one that testdata/geo/mkmmdb -size kit writes
// (about 20 s, cached in .cache/geo by the generator's source hash).
func TestCompileBigDB(t *testing.T) {
	path := os.Getenv("MERIDIAN_GEODB")
	if path == "" {
		proctest.SkipShort(t, "generates a database of 2 million networks")
		path = kitDB(t)
	}
	c := compiledCases()[3]
	c.name, c.db = path, path
	checkCompiled(t, newLocator(t, openDB(t, path), c.rules...), c, 100000)
}

// kitDB returns the path of a kit-shaped database, generating it once per
// version of the generator.
func kitDB(t *testing.T) string {
	t.Helper()
	const gen = "../testdata/geo/mkmmdb"
	h := sha256.New()
	files, err := filepath.Glob(filepath.Join(gen, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(b))
		h.Write(b)
	}
	path, err := filepath.Abs(fmt.Sprintf("../.cache/geo/kit-%x.mmdb", h.Sum(nil)[:6]))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err == nil {
		return path
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		proctest.Missing(t, "the go command is not in PATH: TestCompileBigDB generates its database with testdata/geo/mkmmdb")
	}
	t.Logf("generating %s with testdata/geo/mkmmdb -size kit (about 20 s, once)", path)
	cmd := exec.Command(gobin, "run", ".", "-size", "kit", "-o", path)
	cmd.Dir = gen
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	if out, err := proctest.Run(5*time.Minute, cmd); err != nil {
		proctest.Missing(t, "cannot run testdata/geo/mkmmdb -size kit: "+err.Error()+"\n"+out)
	}
	return path
}

func checkCompiled(t *testing.T, l *Locator, c compiledCase, n int) {
	t.Helper()
	lt := leafTable{}
	tree, err := l.Compile(context.Background(), c.splits, lt.value)
	if err != nil {
		t.Fatal(err)
	}
	checkMerged(t, tree)
	r := rand.New(rand.NewPCG(11, uint64(len(c.name))))
	for _, a := range compileAddrs(r, n, c) {
		m := l.Locate(a)
		want := lt.value(m, longestSplit(c.splits, a))
		got, bits := tree.Lookup(a)
		if got != want {
			t.Fatalf("%s: compiled leaf %d, Locate says %d (%+v, split %d)", a, got, want, m, longestSplit(c.splits, a))
		}
		// The database's network (or the rule's) holds one answer, so
		// the merged prefix is never longer, unless a split cuts it.
		if len(c.splits) == 0 && bits > m.Prefix.Bits() {
			t.Fatalf("%s: compiled prefix /%d is longer than Locate's %s", a, bits, m.Prefix)
		}
		scope, err := a.Unmap().Prefix(bits)
		if err != nil {
			t.Fatalf("%s: compiled prefix length %d: %v", a, bits, err)
		}
		for range 4 {
			b := randomIn(r, scope)
			if got := lt.value(l.Locate(b), longestSplit(c.splits, b)); got != want {
				t.Fatalf("%s is in %s, the compiled prefix of %s, but gets %d, not %d", b, scope, a, got, want)
			}
		}
	}
}

// checkMerged checks that no node has two equal leaves: the tree's
// prefixes are the shortest with one answer.
func checkMerged(t *testing.T, tree *Tree) {
	t.Helper()
	for i, n := range tree.nodes {
		if n[0] == n[1] && n[0]&leafBit != 0 {
			t.Fatalf("node %d has two equal leaves %d", i, n[0]&^leafBit)
		}
	}
}

func TestCompileCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l := newLocator(t, openDB(t, cityDB))
	if _, err := l.Compile(ctx, nil, func(Match, int) uint32 { return 0 }); !errors.Is(err, context.Canceled) {
		t.Fatalf("compile with a cancelled context: %v", err)
	}
}
