package kube

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/meridian-gslb/meridian/gslb"
)

// loadInput is one Ingress for x.gslb.example in east, under GlobalPolicy
// x with the given fields, and HostPolicy x with hf when hf is not nil.
func loadInput(gf PolicyFields, hf *PolicyFields) *Input {
	in := baseInput(ClusterObjects{Name: "east", Site: "east", Ingresses: []*networkingv1.Ingress{
		ingress(meta("a", "x", "label:app", "x"), "", []string{"x.gslb.example"}, "192.0.2.1"),
	}})
	in.GlobalPolicies = []GlobalPolicy{gpol("x", GlobalPolicySpec{Selector: selectLabels("app", "x"), PolicyFields: gf})}
	if hf != nil {
		in.HostPolicies = []HostPolicy{hpol("x", HostPolicySpec{FQDN: "x.gslb.example", PolicyFields: *hf})}
	}
	return in
}

// builtLoad plans in, requires every policy accepted and one service, and
// returns the service's load policy with gslb's defaults applied.
func builtLoad(t *testing.T, in *Input) gslb.LoadPolicy {
	t.Helper()
	out := Plan(in)
	for k, st := range out.Policies {
		if !st.Accepted {
			t.Fatalf("%s: %+v", k, st)
		}
	}
	if len(out.Services) != 1 {
		t.Fatalf("services %v", summarize(out))
	}
	checkValid(t, in, out)
	p := out.Services[0].Policy.Clone()
	p.ApplyDefaults()
	return p.Load
}

// spec.load compiles to the service's gslb.LoadPolicy; gslb's defaults
// fill what it leaves out.
func TestLoadFieldsCompile(t *testing.T) {
	t.Run("every field", func(t *testing.T) {
		got := builtLoad(t, loadInput(PolicyFields{
			Persistence: &PersistenceSpec{Enabled: ptr(true)},
			Load: &LoadSpec{Low: "50", High: "80", HardLimit: "1e2", MaxAge: "1m", StickyFor: "2h",
				Prometheus: `avg by (site) (rate(cpu[1m]))`, MatchLabel: "instance", MatchOn: "address"},
		}, nil))
		want := gslb.LoadPolicy{Low: 50, High: 80, HardLimit: 100, MaxAge: time.Minute, StickyFor: 2 * time.Hour,
			Prometheus: `avg by (site) (rate(cpu[1m]))`, MatchLabel: "instance", MatchOn: gslb.MatchAddress}
		if got != want {
			t.Errorf("load %+v, want %+v", got, want)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		got := builtLoad(t, loadInput(PolicyFields{Load: &LoadSpec{Low: ".5", High: "0.75", Prometheus: "load"}}, nil))
		want := gslb.LoadPolicy{Low: 0.5, High: 0.75, HardLimit: 1, MaxAge: gslb.DefaultLoadMaxAge, StickyFor: gslb.DefaultStickyFor,
			Prometheus: "load", MatchLabel: "site", MatchOn: gslb.MatchSite}
		if got != want {
			t.Errorf("load %+v, want %+v", got, want)
		}
	})
	t.Run("a HostPolicy's load replaces the GlobalPolicy's whole", func(t *testing.T) {
		got := builtLoad(t, loadInput(
			PolicyFields{Load: &LoadSpec{Low: "10", High: "20", MaxAge: "5m", Prometheus: "load", MatchOn: "member"}},
			&PolicyFields{Load: &LoadSpec{High: "4"}}))
		want := gslb.LoadPolicy{High: 4, HardLimit: 8, MaxAge: gslb.DefaultLoadMaxAge, StickyFor: gslb.DefaultStickyFor}
		if got != want {
			t.Errorf("load %+v, want %+v", got, want)
		}
	})
	t.Run("unset inherits the default policy's, empty turns it off", func(t *testing.T) {
		in := loadInput(PolicyFields{}, nil)
		in.DefaultPolicy.Load = gslb.LoadPolicy{Low: 1, High: 2}
		if got := builtLoad(t, in); got.Low != 1 || got.High != 2 {
			t.Errorf("inherited load %+v", got)
		}
		in = loadInput(PolicyFields{}, &PolicyFields{Load: &LoadSpec{}})
		in.DefaultPolicy.Load = gslb.LoadPolicy{Low: 1, High: 2}
		if got := builtLoad(t, in); got.On() || got != (gslb.LoadPolicy{}) {
			t.Errorf("an empty load left %+v", got)
		}
	})
	t.Run("loadFrom reaches the check", func(t *testing.T) {
		in := loadInput(PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "http", Path: "/status", LoadFrom: "json:stats.cpu"},
			Load: &LoadSpec{Low: "0.7", High: "0.9"}}, nil)
		builtLoad(t, in)
		if hc := Plan(in).Services[0].HealthCheck; hc == nil || hc.LoadFrom != "json:stats.cpu" || hc.Path != "/status" {
			t.Errorf("check %+v", hc)
		}
		// a HostPolicy's overrides the GlobalPolicy's (a HostPolicy is
		// judged over the default check too: it names its kind)
		in = loadInput(PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "http", LoadFrom: "body"}},
			&PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "http", LoadFrom: "header:X-Load"}})
		builtLoad(t, in)
		if hc := Plan(in).Services[0].HealthCheck; hc.LoadFrom != "header:X-Load" {
			t.Errorf("check %+v", hc)
		}
	})
	t.Run("a tcp template over an http default with loadFrom drops it", func(t *testing.T) {
		in := loadInput(PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "tcp", Port: i64(5432)}}, nil)
		in.DefaultHealthCheck = &gslb.HealthCheck{Kind: "http", Path: "/healthz", LoadFrom: "body"}
		builtLoad(t, in)
		if hc := Plan(in).Services[0].HealthCheck; hc.Kind != "tcp" || hc.LoadFrom != "" {
			t.Errorf("check %+v", hc)
		}
	})
}

// What gslb refuses in a load policy or a check's load_from is refused
// here, named by its spec field.
func TestLoadFieldsRefused(t *testing.T) {
	pc := &policyContext{zones: []string{"gslb.example."}, sites: map[string]bool{"east": true, "dc1": true}, clusters: map[string]bool{"east": true}, base: basePolicy()}
	tests := []struct {
		f    PolicyFields
		want string // substring of the error; "" = valid
	}{
		{PolicyFields{Load: &LoadSpec{}}, ""},
		{PolicyFields{Load: &LoadSpec{High: "80"}}, ""},
		{PolicyFields{Load: &LoadSpec{Low: "0.8", High: "9.5e-1", HardLimit: "1", MaxAge: "10s", StickyFor: "24h"}}, ""},
		{PolicyFields{Load: &LoadSpec{High: "80", Prometheus: "q", MatchLabel: "instance", MatchOn: "member"}}, ""},
		{PolicyFields{Load: &LoadSpec{High: "lots"}}, `spec.load.high: "lots" is not a decimal number`},
		{PolicyFields{Load: &LoadSpec{Low: "0,5", High: "1"}}, `spec.load.low: "0,5" is not a decimal number`},
		{PolicyFields{Load: &LoadSpec{High: "1", HardLimit: "1e999"}}, "spec.load.hardLimit"},
		{PolicyFields{Load: &LoadSpec{Low: "0.9", High: "0.5"}}, "spec.load.low: must be below high (0.5), got 0.9"},
		{PolicyFields{Load: &LoadSpec{Low: "80", High: "80"}}, "spec.load.low: must be below high"},
		{PolicyFields{Load: &LoadSpec{Low: "-1", High: "1"}}, "spec.load.low: must be a number of at least 0"},
		{PolicyFields{Load: &LoadSpec{Low: "50"}}, "spec.load.high: a load policy needs a high watermark above 0"},
		{PolicyFields{Load: &LoadSpec{Low: "50", High: "80", HardLimit: "70"}}, "spec.load.hardLimit: must be at least high (80)"},
		{PolicyFields{Load: &LoadSpec{High: "1", MaxAge: "soon"}}, `spec.load.maxAge: "soon" is not a positive duration`},
		{PolicyFields{Load: &LoadSpec{High: "1", MaxAge: "500ms"}}, "spec.load.maxAge: must be at least 10s"},
		{PolicyFields{Load: &LoadSpec{High: "1", StickyFor: "0s"}}, "spec.load.stickyFor"},
		{PolicyFields{Load: &LoadSpec{High: "1", StickyFor: "48h"}}, "spec.load.stickyFor: must be between 1m and 24h"},
		{PolicyFields{Load: &LoadSpec{High: "1", Prometheus: "q", MatchOn: "pod"}}, `spec.load.matchOn: must be site, address or member, got "pod"`},
		{PolicyFields{Load: &LoadSpec{High: "1", MatchLabel: "instance"}}, "spec.load.matchLabel: is only used with load.prometheus"},
		// the check's loadFrom
		{PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "http", LoadFrom: "header:X-Load"}}, ""},
		{PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "https", LoadFrom: "json:stats.cpu"}}, ""},
		{PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "http", LoadFrom: "cookie:load"}}, "spec.healthCheck.loadFrom: want header:<name>, json:<path> or body"},
		{PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "http", LoadFrom: "json:stats..cpu"}}, "spec.healthCheck.loadFrom"},
		{PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "http", LoadFrom: "header:X Load"}}, "spec.healthCheck.loadFrom"},
		{PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "http", Method: "HEAD", LoadFrom: "body"}}, "spec.healthCheck.loadFrom: HEAD responses have no body"},
		{PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "http", Method: "HEAD", LoadFrom: "header:X-Load"}}, ""},
		{PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "tcp", Port: i64(5432), LoadFrom: "body"}}, "spec.healthCheck.loadFrom: only for http and https checks"},
	}
	for i, tt := range tests {
		_, gerr := compileGlobal("p", 1, &GlobalPolicySpec{PolicyFields: tt.f}, pc)
		_, herr := compileHost("h", 1, &HostPolicySpec{FQDN: "a.gslb.example", PolicyFields: tt.f}, pc)
		for kind, err := range map[string]error{KindGlobalPolicy: gerr, KindHostPolicy: herr} {
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("%d %s: unexpected error %v", i, kind, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("%d %s: error %v, want one containing %q", i, kind, err, tt.want)
			}
		}
	}
}

// A rejected load keeps the service's load as it was: the last accepted
// version applies.
func TestLoadFieldsRejectedKeepsLastAccepted(t *testing.T) {
	in := loadInput(PolicyFields{Load: &LoadSpec{Low: "0.9", High: "0.5"}}, nil)
	good := in.GlobalPolicies[0].Spec
	good.Load = &LoadSpec{Low: "0.25", High: "0.5"}
	in.GlobalPolicies[0].Generation = 2
	in.LastAccepted = map[PolicyKey]AcceptedSpec{{KindGlobalPolicy, "x"}: {Generation: 1, Global: &good}}
	out := Plan(in)
	st := statusOfPolicy(t, out, KindGlobalPolicy, "x")
	if st.Accepted || !strings.Contains(st.Message, "spec.load.low: must be below high") {
		t.Errorf("status %+v", st)
	}
	if l := out.Services[0].Policy.Load; l.Low != 0.25 || l.High != 0.5 {
		t.Errorf("load %+v, want the last accepted", l)
	}
}

// The CRDs' schemas hold LoadSpec's fields and healthCheck.loadFrom, and
// their patterns take what the Go side reads (and refuse what it refuses).
func TestLoadFieldsCRDSchema(t *testing.T) {
	var loadKeys []string
	for f := range reflect.TypeFor[LoadSpec]().Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		loadKeys = append(loadKeys, name)
	}
	slices.Sort(loadKeys)
	for _, name := range []string{"gslb.meridian.io_globalpolicies.yaml", "gslb.meridian.io_hostpolicies.yaml"} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "helm", "meridian", "crds", name))
		if err != nil {
			t.Fatal(err)
		}
		var crd struct {
			Spec struct {
				Versions []struct {
					Schema struct {
						OpenAPIV3Schema struct {
							Properties struct {
								Spec schemaNode `yaml:"spec"`
							} `yaml:"properties"`
						} `yaml:"openAPIV3Schema"`
					} `yaml:"schema"`
				} `yaml:"versions"`
			} `yaml:"spec"`
		}
		if err := yaml.Unmarshal(raw, &crd); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties.Spec
		load, ok := spec.Properties["load"]
		if !ok {
			t.Fatalf("%s: no spec.load", name)
		}
		var keys []string
		for k := range load.Properties {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, loadKeys) {
			t.Errorf("%s: spec.load has %v, LoadSpec %v", name, keys, loadKeys)
		}
		if on := load.Properties["matchOn"].Enum; !slices.Equal(on, []string{gslb.MatchSite, gslb.MatchAddress, gslb.MatchMember}) {
			t.Errorf("%s: spec.load.matchOn enum %v", name, on)
		}
		for _, f := range []string{"low", "high", "hardLimit"} {
			re := regexp.MustCompile(load.Properties[f].Pattern)
			for s, ok := range map[string]bool{"0.8": true, "80": true, "1e3": true, ".5": true, "2.5E-1": true,
				"-1": false, "0,5": false, "1e": false, "lots": false, "": false, "Inf": false} {
				_, err := strconv.ParseFloat(s, 64)
				if re.MatchString(s) != ok || ok && err != nil {
					t.Errorf("%s: spec.load.%s pattern on %q: %v, want %v (ParseFloat: %v)", name, f, s, !ok, ok, err)
				}
			}
		}
		for _, f := range []string{"maxAge", "stickyFor"} {
			if p := load.Properties[f].Pattern; p != spec.Properties["healthCheck"].Properties["interval"].Pattern {
				t.Errorf("%s: spec.load.%s pattern %q is not the check's durations'", name, f, p)
			}
		}
		lf, ok := spec.Properties["healthCheck"].Properties["loadFrom"]
		if !ok {
			t.Fatalf("%s: no spec.healthCheck.loadFrom", name)
		}
		re := regexp.MustCompile(lf.Pattern)
		for _, s := range []string{"header:X-Load", "header:x_weight", "json:load", "json:stats.cpu", "body",
			"capacity:header:X-Free", "capacity:json:free", "capacity:body",
			"header:", "header:X Load", "json:", "json:a..b", "json:.a", "body:x", "cookie:x", "",
			"capacity", "capacity:", "capacity:cookie:x", "capacity:capacity:body"} {
			_, err := gslb.ParseLoadFrom(s)
			if re.MatchString(s) != (err == nil) {
				t.Errorf("%s: spec.healthCheck.loadFrom pattern on %q: %v, ParseLoadFrom: %v", name, s, re.MatchString(s), err)
			}
		}
	}
}

// schemaNode is the part of an OpenAPI schema the test reads.
type schemaNode struct {
	Properties map[string]schemaNode `yaml:"properties"`
	Pattern    string                `yaml:"pattern"`
	Enum       []string              `yaml:"enum"`
}
