package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/test/scale"
)

// head is a file's settings before its services list.
const head = "zones:\n  - {name: s.example., nameservers: [{name: ns.elsewhere.example.}]}\nsites:\n  - {name: a}\n  - {name: b}\n"

// TestSplitServices cuts lists written in every way the splitter takes,
// and wants each entry's first line and the file's lines kept in rest.
func TestSplitServices(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  string
		lines []int // the entries' first lines
	}{
		{"plain", head + "services:\n  - name: x.s.example.\n    members: [{site: a, addresses: [192.0.2.1]}]\n  - name: y.s.example.\n    members: [{site: b, addresses: [192.0.2.2]}]\n",
			[]int{7, 9}},
		{"comments and blank lines", head + "services:   # the list\n\n# first\n  - name: x.s.example.\n\n# a comment at column 0\n    # another\n    members: [{site: a, addresses: [192.0.2.1]}]\n\n  - name: y.s.example. # trailing\n    members: [{site: b, addresses: [192.0.2.2]}]\n# after\n",
			[]int{9, 15}},
		{"block scalars", head + "services:\n  - name: x.s.example.\n    health_check:\n      kind: http\n      body_contains: |\n        - not an entry\n        services:\n      host: >\n        - nor this\n    members: [{site: a, addresses: [192.0.2.1]}]\n  - name: y.s.example.\n    members: [{site: b, addresses: [192.0.2.2]}]\n",
			[]int{7, 16}},
		{"nested sequences", head + "services:\n  - name: x.s.example.\n    members:\n      - site: a\n        addresses:\n          - 192.0.2.1\n          - 192.0.2.3\n      - {site: b, addresses: [192.0.2.2]}\n",
			[]int{7}},
		{"indent 0, then a key", head + "services:\n- name: x.s.example.\n  members: [{site: a, addresses: [192.0.2.1]}]\n-\n  name: y.s.example.\n  members: [{site: b, addresses: [192.0.2.2]}]\nlog: {level: debug}\n",
			[]int{7, 9}},
		{"CRLF", strings.ReplaceAll(head+"services:\n  - name: x.s.example.\n    members: [{site: a, addresses: [192.0.2.1]}]\n  - name: y.s.example.\n    members: [{site: b, addresses: [192.0.2.2]}]\n", "\n", "\r\n"),
			[]int{7, 9}},
		{"last entry at EOF without a newline", head + "services:\n  - name: x.s.example.\n    members: [{site: a, addresses: [192.0.2.1]}]",
			[]int{7}},
		{"services before other keys", "services:\n  - name: x.s.example.\n    members: [{site: a, addresses: [192.0.2.1]}]\n" + head,
			[]int{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rest, sp, ok := splitServices(tc.text)
			if !ok {
				t.Fatal("declined")
			}
			var got []int
			for _, it := range sp.items {
				got = append(got, it.line)
				if !strings.HasPrefix(tc.text[it.off:], it.key) {
					t.Errorf("entry at line %d: key is not the file's text at off", it.line)
				}
			}
			if !reflect.DeepEqual(got, tc.lines) {
				t.Errorf("entries start at lines %v, want %v", got, tc.lines)
			}
			if strings.Count(string(rest), "\n") != strings.Count(tc.text, "\n") {
				t.Errorf("rest has %d lines, the file %d", strings.Count(string(rest), "\n"), strings.Count(tc.text, "\n"))
			}
			// Both ways decode the same file to the same Config.
			path := filepath.Join(t.TempDir(), "c.yaml")
			writeFile(t, path, tc.text)
			split, src, err := readConfig(path, nil, decoding{})
			must(t, err)
			if src.split == nil {
				t.Fatal("not decoded entry by entry")
			}
			whole, _, err := readConfig(path, nil, decoding{whole: true})
			must(t, err)
			if !reflect.DeepEqual(split, whole) {
				t.Errorf("split decode\n%+v\nwhole decode\n%+v", split.Services, whole.Services)
			}
		})
	}
}

// TestSplitDeclines: what the splitter cannot be sure of is decoded whole.
func TestSplitDeclines(t *testing.T) {
	entry := "  - name: x.s.example.\n    members: [{site: a, addresses: [192.0.2.1]}]\n"
	for _, tc := range []struct{ name, text string }{
		{"flow style", head + "services: [{name: x.s.example., members: [{site: a, addresses: [192.0.2.1]}]}]\n"},
		{"anchor", head + "services:\n  - &x\n    name: x.s.example.\n    members: [{site: a, addresses: [192.0.2.1]}]\n"},
		{"alias into the list", head + "services:\n  - name: x.s.example.\n    members: &m [{site: a, addresses: [192.0.2.1]}]\n  - name: y.s.example.\n    members: *m\n"},
		{"merge key", head + "services:\n  - <<: {name: x.s.example.}\n    members: [{site: a, addresses: [192.0.2.1]}]\n"},
		{"tab", head + "services:\n  - name: x.s.example.\n    members:\t[{site: a, addresses: [192.0.2.1]}]\n"},
		{"document marker", "---\n" + head + "services:\n" + entry},
		{"directive", "%YAML 1.2\n---\n" + head + "services:\n" + entry},
		{"services twice", head + "services:\n" + entry + "services:\n" + entry},
		{"quoted key", head + "\"services\":\n" + entry},
		{"a map, not a list", head + "services:\n  x: 1\n"},
		{"empty", head + "services:\n"},
		{"under-indented line", head + "services:\n  - name: x.s.example.\n members: []\n"},
		{"no services", head},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, ok := splitServices(tc.text); ok {
				t.Errorf("split %q", tc.text)
			}
		})
	}
}

// TestSplitFallsBackWhenUnsure: text the splitter takes but cannot read
// for sure (a list inside a multi-line string) is decoded whole, with
// the whole decode's result or error.
func TestSplitFallsBackWhenUnsure(t *testing.T) {
	for _, tc := range []struct{ name, text string }{
		{"list inside a string", "log:\n  level: \"debug\n\nservices:\n  - name: x\n\"\n" + head},
		{"a key twice in an entry", head + "services:\n  - name: x.s.example.\n    name: y.s.example.\n    members: [{site: a, addresses: [192.0.2.1]}]\n"},
		{"non-string key", head + "services:\n  - name: x.s.example.\n    1: one\n    members: [{site: a, addresses: [192.0.2.1]}]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			writeFile(t, path, tc.text)
			split, src, errSplit := readConfig(path, nil, decoding{})
			whole, _, errWhole := readConfig(path, nil, decoding{whole: true})
			if src.split != nil {
				t.Error("decoded entry by entry")
			}
			if errText(errSplit) != errText(errWhole) || !reflect.DeepEqual(split, whole) {
				t.Errorf("split: %v %+v\nwhole: %v %+v", errSplit, split, errWhole, whole)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestSplitSyntaxErrorLine: a syntax error inside an entry is reported
// as the whole file's parse reports it, on the file's line.
func TestSplitSyntaxErrorLine(t *testing.T) {
	path := fixtureDir(t, replace(t, "      strategy: roundrobin\n", "      strategy: [roundrobin\n"))
	_, errSplit := Load(Options{File: path})
	_, errWhole := load(Options{File: path}, decoding{whole: true})
	if errSplit == nil || errText(errSplit) != errText(errWhole) {
		t.Fatalf("split: %v\nwhole: %v", errSplit, errWhole)
	}
	if !strings.Contains(errSplit.Error(), "line ") {
		t.Errorf("no line in %v", errSplit)
	}
}

// TestSplitAndWholeAgree loads real and generated configurations and the
// broken fixtures both ways: the same Loaded, or the same errors, line
// for line.
func TestSplitAndWholeAgree(t *testing.T) {
	dir := t.TempDir()
	files := []string{"../testdata/demo/meridian.yaml", goodFixture, healthFixtureDir(t, nil)}
	for _, c := range []scale.Check{scale.CheckNone, scale.CheckSharedTCP, scale.CheckPerServiceNone} {
		files = append(files, writeScale(t, dir, scale.Options{Services: 300, Check: c}))
		files[len(files)-1] = renameTo(t, files[len(files)-1], string(c))
	}
	broken, err := filepath.Glob("testdata/broken/*.yaml")
	must(t, err)
	for _, tc := range brokenCases {
		files = append(files, fixtureDir(t, replace(t, tc.old, tc.new)))
	}
	// Errors in several sections, in services and at the top level: the
	// same errors in the same order.
	files = append(files, fixtureDir(t, func(s string) string {
		s = replace(t, "strategy: geo", "strategyy: geo")(s)
		s = replace(t, "ttl: 30", "ttl: -30")(s)
		s = replace(t, "tcp_idle_timeout: 15s", "tcp_idle_timeout: 15")(s)
		s = replace(t, "{lat: 19.08, lon: 72.88,", "{lat: 19.08, lon: [72],")(s)
		return "bogus: 1\n" + s + "zzz: 2\n"
	}))
	for _, f := range append(files, broken...) {
		split, errSplit := Load(Options{File: f})
		whole, errWhole := load(Options{File: f}, decoding{whole: true})
		if errText(errSplit) != errText(errWhole) {
			t.Errorf("%s:\nsplit: %v\nwhole: %v", f, errSplit, errWhole)
			continue
		}
		if errSplit != nil {
			continue
		}
		if split.split == nil && strings.HasSuffix(f, ".yaml") {
			t.Errorf("%s: not decoded entry by entry", f)
		}
		if !reflect.DeepEqual(split.Config, whole.Config) || !reflect.DeepEqual(split.State, whole.State) {
			t.Errorf("%s: the two decodes differ", f)
		}
	}
}

func renameTo(t *testing.T, path, name string) string {
	t.Helper()
	to := filepath.Join(filepath.Dir(path), name+".yaml")
	must(t, os.Rename(path, to))
	return to
}

// FuzzSplitAndWholeAgree looks for a file the two ways decode
// differently.
func FuzzSplitAndWholeAgree(f *testing.F) {
	entry := "  - name: x.s.example.\n    members: [{site: a, addresses: [192.0.2.1]}]\n"
	for _, seed := range []string{
		head + "services:\n" + entry + entry,
		head + "services:\n- name: x.s.example.\n  members: [{site: a, addresses: [192.0.2.1]}]\nlog: {level: debug}\n",
		head + "services:\n  - name: x.s.example.\n    health_check:\n      body_contains: |\n        - x\n      kind: http\n" + entry,
		"log:\n  level: \"debug\n\nservices:\n  - name: x\n\"\n" + head,
	} {
		f.Add(seed)
	}
	good, err := os.ReadFile(goodFixture)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(good))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, text string) {
		path := filepath.Join(dir, "c.yaml")
		writeFile(t, path, text)
		split, _, errSplit := readConfig(path, nil, decoding{})
		whole, _, errWhole := readConfig(path, nil, decoding{whole: true})
		if errText(errSplit) != errText(errWhole) || !reflect.DeepEqual(split, whole) {
			t.Errorf("%q\nsplit: %v %+v\nwhole: %v %+v", text, errSplit, split, errWhole, whole)
		}
	})
}
