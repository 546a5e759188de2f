package config

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/test/scale"
)

// resplitBase is a services list written in the ways splitServices
// takes: comments, blank lines, block scalars, nested lists, a setting
// after the list.
const resplitBase = head + "services:   # the list\n\n# first\n" +
	"  - name: a.s.example.\n    members: [{site: a, addresses: [192.0.2.1]}]\n\n" +
	"  - name: b.s.example.\n    health_check:\n      kind: http\n      body_contains: |\n        - not an entry\n    members:\n      - site: a\n        addresses:\n          - 192.0.2.1\n" +
	"# a comment at column 0\n" +
	"  - name: c.s.example.\n    members: [{site: b, addresses: [192.0.2.2]}]\n" +
	"  -\n    name: d.s.example.\n    members: [{site: b, addresses: [192.0.2.3]}]\n" +
	"log: {level: debug}\n"

// resplitSnippets are what the random edits write: entries, parts of
// entries, list ends, and what makes the splitter decline.
var resplitSnippets = []string{
	"", "\n", "x", " ", "-", "- ", "#", "\t", "&a ", "*a", "<<", "services:\n", "log: {level: warn}\n",
	"  - name: z.s.example.\n    members: [{site: a, addresses: [192.0.2.9]}]\n",
	"    ttl: 5\n", "# c\n", "  -\n", "  - ", "\n  - name: y.s.example.\n", " members: []\n",
}

// TestResplitMatchesSplit edits files at random and wants resplit to cut
// each edited text exactly as splitServices does, or to decline; it must
// not decline most of them.
func TestResplitMatchesSplit(t *testing.T) {
	gen := func(o scale.Options) string {
		var b strings.Builder
		must(t, scale.Write(&b, o))
		return b.String()
	}
	bases := []string{resplitBase, resplitBase[:len(resplitBase)-len("log: {level: debug}\n")], gen(scale.Options{Services: 20})}
	rng := rand.New(rand.NewPCG(1, 2))
	tried, took := 0, 0
	for _, base := range bases {
		_, prev, ok := splitServices(base)
		if !ok {
			t.Fatal("the base does not split")
		}
		for range 3000 {
			text := base
			for range 1 + rng.IntN(2) {
				from := rng.IntN(len(text) + 1)
				to := min(len(text), from+rng.IntN(3)*rng.IntN(40))
				text = text[:from] + resplitSnippets[rng.IntN(len(resplitSnippets))] + text[to:]
			}
			got, ok := resplit(prev, text)
			_, want, wantOK := splitServices(text)
			// An edit inside the list, of a list splitServices cuts.
			inside := wantOK && want.first == prev.first && text[:want.first] == base[:prev.first] &&
				text[want.end:] == base[prev.end:]
			if inside {
				tried++
			}
			if !ok {
				if inside && testing.Verbose() {
					t.Logf("declined:\n%s", text)
				}
				continue
			}
			took++
			if !wantOK {
				t.Fatalf("resplit cut what splitServices declines:\n%s", text)
			}
			if got.first != want.first || got.end != want.end || got.indent != want.indent || len(got.items) != len(want.items) {
				t.Fatalf("resplit: list [%d,%d) of %d entries, want [%d,%d) of %d:\n%s",
					got.first, got.end, len(got.items), want.first, want.end, len(want.items), text)
			}
			for i, it := range got.items {
				w := want.items[i]
				if it.kept > 0 && prev.items[it.kept-1].key != it.key {
					t.Fatalf("entry %d kept from %d, whose text differs:\n%s", i, it.kept-1, text)
				}
				it.kept = 0
				if !reflect.DeepEqual(it, w) {
					t.Fatalf("entry %d: %+v, want %+v:\n%s", i, it, w, text)
				}
			}
			if text[:got.first] != base[:prev.first] || text[got.end:] != base[prev.end:] {
				t.Fatalf("the text outside the list changed:\n%s", text)
			}
		}
	}
	t.Logf("resplit cut %d of %d texts edited inside the list", took, tried)
	if took < tried*9/10 {
		t.Errorf("resplit cut only %d of %d texts edited inside the list", took, tried)
	}
}

// TestResplitUnchanged: the same text read again keeps every entry.
func TestResplitUnchanged(t *testing.T) {
	_, prev, _ := splitServices(resplitBase)
	again := strings.Clone(resplitBase)
	sp, ok := resplit(prev, again)
	if !ok || len(sp.items) != len(prev.items) {
		t.Fatal("declined the same text")
	}
	for i, it := range sp.items {
		if it.kept != i+1 || it.key != prev.items[i].key {
			t.Errorf("entry %d: kept %d", i, it.kept)
		}
	}
}

// TestResplitOneEdit: at scale, an edit of one service's TTL keeps every
// other entry by position.
func TestResplitOneEdit(t *testing.T) {
	var a, b strings.Builder
	must(t, scale.Write(&a, scale.Options{Services: 1000}))
	must(t, scale.Write(&b, scale.Options{Services: 1000, Variant: 500}))
	_, prev, _ := splitServices(a.String())
	sp, ok := resplit(prev, b.String())
	if !ok {
		t.Fatal("declined")
	}
	for i, it := range sp.items {
		if (it.kept == 0) != (i == 500) {
			t.Errorf("entry %d: kept %d", i, it.kept)
		}
	}
}

// TestLoaderEditsAgreeWithLoad: a Loader that reloads a file after edit
// upon random edit (resplit, the kept decodes, a fallback when unsure)
// loads what a fresh Load of each text loads, or fails with its error.
func TestLoaderEditsAgreeWithLoad(t *testing.T) {
	path := t.TempDir() + "/m.yaml"
	var b strings.Builder
	must(t, scale.Write(&b, scale.Options{Services: 30}))
	base := b.String()
	writeFile(t, path, base)
	ld := NewLoader(Options{File: path}, nil)
	// Whole lines, mostly ones that keep the file valid.
	snippets := []string{"", "", "\n", "# c\n", "    ttl: 7\n", "    ttl: x\n", "  - name: new.app.example.\n    members: [{site: site1, addresses: [192.0.2.77]}]\n", "log: {level: warn}\n", "  - \n"}
	rng := rand.New(rand.NewPCG(3, 4))
	text, good := base, 0
	for range 300 {
		starts := []int{0}
		for i, c := range text {
			if c == '\n' {
				starts = append(starts, i+1)
			}
		}
		k := rng.IntN(len(starts))
		from, to := starts[k], starts[min(len(starts)-1, k+rng.IntN(3))]
		edited := text[:from] + snippets[rng.IntN(len(snippets))] + text[to:]
		writeFile(t, path, edited)
		got, errGot := ld.Load()
		want, errWant := load(Options{File: path}, decoding{whole: true})
		if errText(errGot) != errText(errWant) {
			t.Fatalf("Loader: %v\nLoad: %v\n%s", errGot, errWant, edited)
		}
		if errGot != nil {
			continue // the next edit starts from the last good text
		}
		if !reflect.DeepEqual(got.Config, want.Config) || !reflect.DeepEqual(got.State, want.State) {
			t.Fatalf("the Loader's load differs from a fresh Load:\n%s", edited)
		}
		text = edited
		good++
	}
	t.Logf("%d of 300 edits loaded", good)
	if good < 30 {
		t.Errorf("only %d of 300 edits loaded", good)
	}
}
