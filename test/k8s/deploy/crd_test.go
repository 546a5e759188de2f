package deploy

import (
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// The spec fields GlobalPolicy and HostPolicy share (the API contract of
// issue #4): the same schema in both CRDs, except that HostPolicy has no
// defaults (a field it sets overrides; one it leaves out inherits).
var sharedSpecFields = []string{
	"strategy", "ttl", "degradedTTL", "minUp", "answers", "geoTieKm", "topology",
	"hashMask", "healthCheck", "persistence", "downResponse", "hostnameVIPs",
}

func crdFile(t *testing.T, plural string) object {
	return readYAMLFile(t, filepath.Join(crdDir(t), "gslb.meridian.io_"+plural+".yaml"))
}

func specSchema(t *testing.T, crd object) map[string]any {
	t.Helper()
	props, ok := path(crd, "spec", "versions", 0, "schema", "openAPIV3Schema", "properties", "spec", "properties").(map[string]any)
	if !ok {
		t.Fatalf("%s: no spec properties", crd.name())
	}
	return props
}

// strip removes descriptions and defaults, recursively.
func strip(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if k == "description" || k == "default" {
				continue
			}
			out[k] = strip(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = strip(e)
		}
		return out
	}
	return v
}

func hasDefault(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["default"]; ok {
			return true
		}
		for _, e := range x {
			if hasDefault(e) {
				return true
			}
		}
	case []any:
		return slices.ContainsFunc(x, hasDefault)
	}
	return false
}

func TestCRDsShareThePolicyFields(t *testing.T) {
	gp, hp := specSchema(t, crdFile(t, "globalpolicies")), specSchema(t, crdFile(t, "hostpolicies"))
	for _, f := range sharedSpecFields {
		g, h := gp[f], hp[f]
		if g == nil || h == nil {
			t.Errorf("spec.%s: GlobalPolicy has %v, HostPolicy has %v", f, g != nil, h != nil)
			continue
		}
		if !reflect.DeepEqual(strip(g), strip(h)) {
			t.Errorf("spec.%s differs between GlobalPolicy and HostPolicy (apart from descriptions and defaults):\nGlobalPolicy: %v\nHostPolicy:   %v", f, strip(g), strip(h))
		}
	}
	// A schema default would be indistinguishable from a value the user
	// set: it would override kubernetes.default_policy (GlobalPolicy) or
	// the policy that built the name (HostPolicy).
	for kind, spec := range map[string]map[string]any{"GlobalPolicy": gp, "HostPolicy": hp} {
		for _, f := range sharedSpecFields {
			if hasDefault(spec[f]) {
				t.Errorf("%s spec.%s has a schema default: an unset field must stay unset, so that the config's default policy (or the policy that built the name) applies", kind, f)
			}
		}
	}
}

func TestCRDNames(t *testing.T) {
	for _, tc := range []struct {
		plural, kind, short string
		columns             []string
	}{
		{"globalpolicies", "GlobalPolicy", "gpol", []string{"Strategy", "TTL", "Accepted", "Services", "Reason", "Message", "Age"}},
		{"hostpolicies", "HostPolicy", "hpol", []string{"FQDN", "Strategy", "Accepted", "Reason", "Message", "Age"}},
	} {
		crd := crdFile(t, tc.plural)
		for _, c := range []struct {
			steps []any
			want  any
		}{
			{[]any{"apiVersion"}, "apiextensions.k8s.io/v1"},
			{[]any{"metadata", "name"}, tc.plural + ".gslb.meridian.io"},
			{[]any{"spec", "group"}, "gslb.meridian.io"},
			{[]any{"spec", "scope"}, "Cluster"},
			{[]any{"spec", "names", "kind"}, tc.kind},
			{[]any{"spec", "names", "plural"}, tc.plural},
			{[]any{"spec", "names", "shortNames"}, []any{tc.short}},
			{[]any{"spec", "names", "categories"}, []any{"meridian"}},
			{[]any{"spec", "versions", 0, "name"}, "v1alpha1"},
			{[]any{"spec", "versions", 0, "subresources", "status"}, map[string]any{}},
		} {
			if got := path(crd, c.steps...); !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s %v = %#v, want %#v", tc.plural, c.steps, got, c.want)
			}
		}
		var cols []string
		for _, c := range asList(path(crd, "spec", "versions", 0, "additionalPrinterColumns")) {
			cols = append(cols, path(c, "name").(string))
		}
		if !slices.Equal(cols, tc.columns) {
			t.Errorf("%s printer columns = %v, want %v", tc.plural, cols, tc.columns)
		}
	}
}
