package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/test/scale"
)

// rewriteScale writes the generated configuration o to path.
func rewriteScale(t *testing.T, path string, o scale.Options) {
	t.Helper()
	must(t, scale.WriteFile(path, o))
}

// scaleLoader writes test/scale's configuration for o to a new file and
// loads it through a new Loader: the file, the Loader and its first load.
func scaleLoader(t *testing.T, o scale.Options) (string, *Loader, *Loaded) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.yaml")
	rewriteScale(t, path, o)
	ld := NewLoader(Options{File: path}, nil)
	first, err := ld.Load()
	must(t, err)
	return path, ld, first
}

// reused reports whether b's service i is a's, reused rather than decoded
// again: its members are the same memory.
func reused(a, b *Loaded, i int) bool {
	return &a.Config.Services[i].Members[0] == &b.Config.Services[i].Members[0]
}

// TestLoaderReusesUnchangedServices: after a one-service edit the Loader
// decodes that service alone, and loads what a fresh Load loads.
func TestLoaderReusesUnchangedServices(t *testing.T) {
	o := scale.Options{Services: 200}
	path, ld, first := scaleLoader(t, o)

	o.Variant = 7
	rewriteScale(t, path, o)
	next, err := ld.Load()
	must(t, err)
	fresh := mustLoad(t, path)
	if !reflect.DeepEqual(next.Config, fresh.Config) || !reflect.DeepEqual(next.State, fresh.State) {
		t.Fatal("the Loader's load differs from a fresh Load")
	}
	if next.State.Services[7].Policy.TTL == first.State.Services[7].Policy.TTL {
		t.Error("the edit was not loaded")
	}
	for i := range next.Config.Services {
		if reused(first, next, i) != (i != 7) {
			t.Errorf("service %d: reused %v", i, reused(first, next, i))
		}
		// The converted service is shared too, not made again.
		if shared := &first.State.Services[i].Members[0] == &next.State.Services[i].Members[0]; shared != (i != 7) {
			t.Errorf("service %d: State's service shared %v", i, shared)
		}
	}
	if first.Same(next) || !next.Same(fresh) {
		t.Error("Same misjudges the edit")
	}
}

// TestLoaderStartsFromTheRunningConfig: serve's first load (config.Load)
// seeds the reloads' Loader.
func TestLoaderStartsFromTheRunningConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.yaml")
	rewriteScale(t, path, scale.Options{Services: 20})
	running := mustLoad(t, path)
	next, err := NewLoader(Options{File: path}, running).Load()
	must(t, err)
	if !reused(running, next, 0) || !running.Same(next) {
		t.Error("the running configuration's services were decoded again")
	}
	// A configuration of another file (another directory) is not reused.
	other := filepath.Join(t.TempDir(), "m.yaml")
	rewriteScale(t, other, scale.Options{Services: 20})
	fromOther, err := NewLoader(Options{File: other}, running).Load()
	must(t, err)
	if reused(running, fromOther, 0) {
		t.Error("services of another file were reused")
	}
}

// TestLoaderFailedLoadKeepsTheRunningEntries: a rejected file leaves the
// Loader with the running configuration's services, and the next good
// file loads as a fresh Load would.
func TestLoaderFailedLoadKeepsTheRunningEntries(t *testing.T) {
	o := scale.Options{Services: 50}
	path, ld, first := scaleLoader(t, o)
	kept := ld.kept

	// A good edit of service 3 and a typo in service 9, in one file.
	o.Variant = 3
	rewriteScale(t, path, o)
	b, err := os.ReadFile(path)
	must(t, err)
	bad := strings.Replace(string(b), "name: app9.", "namex: app9.", 1)
	writeFile(t, path, bad)
	if _, err := ld.Load(); err == nil || !strings.HasPrefix(err.Error(), `services[9].namex: unknown key (did you mean "name"?)`) {
		t.Fatalf("got %v", err)
	}
	if ld.kept != kept || &ld.kept.services[0] != &first.Config.Services[0] {
		t.Fatal("a rejected load replaced the kept services")
	}

	writeFile(t, path, string(b))
	next, err := ld.Load()
	must(t, err)
	fresh := mustLoad(t, path)
	if !reflect.DeepEqual(next.State, fresh.State) || next.State.Services[3].Policy.TTL == first.State.Services[3].Policy.TTL {
		t.Error("the good file after a rejected one loads differently from a fresh Load")
	}
}

// TestLoaderWholeDecode: a file the splitter declines (JSON here) loads
// through a Loader all the same, decoded whole each time.
func TestLoaderWholeDecode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.json")
	writeFile(t, path, `{"zones": [{"name": "j.example.", "nameservers": [{"name": "ns.elsewhere.example."}]}],
 "sites": [{"name": "a"}], "services": [{"name": "www.j.example.", "members": [{"site": "a", "addresses": ["192.0.2.1"]}]}]}`)
	ld := NewLoader(Options{File: path}, nil)
	for range 2 {
		l, err := ld.Load()
		must(t, err)
		if len(l.State.Services) != 1 || ld.kept != nil {
			t.Errorf("services %d, kept %v", len(l.State.Services), ld.kept)
		}
	}
}

// TestSameNoticesCAFiles: a CA file is read into its service's check, so
// a new CA is a change though the config file is the same.
func TestSameNoticesCAFiles(t *testing.T) {
	path := healthFixtureDir(t, nil)
	a := mustLoad(t, path)
	if b := mustLoad(t, path); !a.Same(b) {
		t.Fatal("two loads of one file differ")
	}
	writeFile(t, filepath.Join(filepath.Dir(path), "ca.pem"), testCAPEM(t))
	if c := mustLoad(t, path); a.Same(c) {
		t.Error("a changed CA file went unnoticed")
	}
}

// TestLoaderReportsDuplicates: a service renamed to another's name is
// reported though every other entry is reused.
func TestLoaderReportsDuplicates(t *testing.T) {
	path, ld, _ := scaleLoader(t, scale.Options{Services: 10})
	b, err := os.ReadFile(path)
	must(t, err)
	writeFile(t, path, strings.Replace(string(b), "name: app5.", "name: app3.", 1))
	_, err = ld.Load()
	if err == nil || err.Error() != `services[5].name: service "app3.scale.example." is defined twice` {
		t.Fatalf("got %v", err)
	}
}

// TestLoaderValidatesWhatChanged: a reload judges only the services that
// differ from the last good load (gslb's ValidateChanged), so a changed
// service's problem is found, and a site removed under unchanged services
// makes every service judged again.
func TestLoaderValidatesWhatChanged(t *testing.T) {
	path, ld, _ := scaleLoader(t, scale.Options{Services: 10, Sites: 5, Members: 1})
	good, err := os.ReadFile(path)
	must(t, err)

	// app2 moves to a site that does not exist.
	writeFile(t, path, strings.Replace(string(good), "{site: s2, addresses: [10.32.0.3]}", "{site: nowhere, addresses: [10.32.0.3]}", 1))
	if _, err := ld.Load(); err == nil || !strings.Contains(err.Error(), `services[2].members[0].site: unknown site "nowhere"`) {
		t.Fatalf("changed service: got %v", err)
	}
	// Site s4 goes; app4 and app9, unchanged, used it.
	writeFile(t, path, strings.Replace(string(good), "  - {name: s4,", "  - {name: s5,", 1))
	_, err = ld.Load()
	for _, want := range []string{`services[4].members[0].site: unknown site "s4"`, `services[9].members[0].site: unknown site "s4"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("site removed: want %s, got %v", want, err)
		}
	}
}

// TestLoaderConvertsAgainUnderANewDefaultCheck: an unchanged entry takes
// the new health.default_check, so its converted service is not reused.
func TestLoaderConvertsAgainUnderANewDefaultCheck(t *testing.T) {
	o := scale.Options{Services: 20, Check: scale.CheckSharedTCP}
	path, ld, _ := scaleLoader(t, o)
	b, err := os.ReadFile(path)
	must(t, err)
	writeFile(t, path, strings.Replace(string(b), "kind: tcp, port: 7070", "kind: tcp, port: 7071", 1))
	next, err := ld.Load()
	must(t, err)
	for i, svc := range next.State.Services {
		if svc.HealthCheck == nil || svc.HealthCheck.Port != 7071 {
			t.Fatalf("service %d: check %+v, want the new default's port 7071", i, svc.HealthCheck)
		}
	}
	fresh := mustLoad(t, path)
	if !reflect.DeepEqual(next.State, fresh.State) {
		t.Error("the Loader's load differs from a fresh Load")
	}
}
