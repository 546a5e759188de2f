package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testSecret = "kJ1p4ZZlS2s9xQy3pA9CkCZG5nEJq1H6vF8c3oSxVgI="

// delegationFixture is good.yaml with a second, site-bound name server and
// a delegation section (delegation replaces its body when given).
func delegationFixture(t *testing.T, delegation string) string {
	t.Helper()
	if delegation == "" {
		delegation = "{server: 192.0.2.53, tsig: {name: gslb-update, secret_file: tsig.key}}"
	}
	path := fixtureDir(t, replace(t, `      - name: ns1.gslb.example.
        addresses: [127.0.0.1]
`, `      - name: ns1.gslb.example.
        addresses: [127.0.0.1]
      - {name: ns2.gslb.example., addresses: [127.0.0.2], site: EU-West}
    ns_ttl: 900
    delegation: `+delegation+"\n"))
	writeFile(t, filepath.Join(filepath.Dir(path), "tsig.key"), "key \"gslb-update\" {\n\talgorithm hmac-sha256;\n\tsecret \""+testSecret+"\";\n};\n")
	return path
}

func TestDelegationDefaults(t *testing.T) {
	path := delegationFixture(t, "")
	l := mustLoad(t, path)
	ds := l.Delegations()
	if len(ds) != 1 {
		t.Fatalf("%d delegations, want 1", len(ds))
	}
	d := ds[0]
	if d.Zone != "gslb.example." || d.Parent != "example." || d.Server != "192.0.2.53:53" || d.TTL != 900 ||
		d.Grace != 10*time.Minute || d.Interval != time.Minute {
		t.Errorf("defaults: %+v", d)
	}
	if d.Key.Name != "gslb-update" || d.Key.Algorithm != "hmac-sha256" || d.Key.Secret != testSecret {
		t.Errorf("key: %s (secret read: %v)", d.Key, d.Key.Secret == testSecret)
	}
	if len(d.NameServers) != 2 || d.NameServers[0].Site != "" || d.NameServers[1].Site != "eu-west" || d.NameServers[1].Addrs[0].String() != "127.0.0.2" {
		t.Errorf("name servers: %+v", d.NameServers)
	}
	// The secret is in no printed form of the configuration, and its
	// file is watched: a new secret is a reload.
	for _, s := range []string{l.Config.String(), fmt.Sprintf("%+v", l.Config), fmt.Sprintf("%#v", l.Config.Zones[0])} {
		if strings.Contains(s, testSecret) {
			t.Errorf("the secret is printed: %s", s)
		}
	}
	key := filepath.Join(filepath.Dir(path), "tsig.key")
	if !strings.Contains(strings.Join(l.Watch, " "), key) {
		t.Errorf("Watch %q lacks %s", l.Watch, key)
	}
	writeFile(t, key, strings.Replace(testSecret, "k", "K", 1)+"\n")
	l2 := mustLoad(t, path)
	if l.Same(l2) {
		t.Error("a new secret is the same configuration")
	}
	if l2.Delegations()[0].Key.Secret == testSecret {
		t.Error("the new secret was not read")
	}
}

func TestDelegationErrors(t *testing.T) {
	for _, tc := range []struct {
		name, delegation string
		want             []string
	}{
		{"nothing", "{}", []string{
			"zones[0].delegation.server: the parent zone's primary server is required",
			"zones[0].delegation.tsig.name: the key name is required",
			"zones[0].delegation.tsig.secret_file: the file of the key's base64 secret is required",
		}},
		{"bad values", "{server: 'host:99999', zone: other.example., grace: -1s, interval: 10ms, tsig: {name: 'a..b', algorithm: hmac-md5, secret_file: nothere.key}}", []string{
			`zones[0].delegation.server: "host:99999": port "99999" is not a number from 1 to 65535`,
			"zones[0].delegation.zone: other.example. is not a parent of the zone gslb.example.",
			`zones[0].delegation.tsig.name: "a..b" is not a domain name`,
			`zones[0].delegation.tsig.algorithm: unknown TSIG algorithm "hmac-md5" (want one of hmac-sha256, hmac-sha384, hmac-sha512)`,
			"zones[0].delegation.tsig.secret_file: ",
			"zones[0].delegation.grace: must not be negative, got -1s",
			"zones[0].delegation.interval: must be at least 1s, got 10ms",
		}},
		{"the zone itself", "{server: '[2001:db8::53]:5353', zone: GSLB.example, tsig: {name: k, secret_file: tsig.key}}", []string{
			"zones[0].delegation.zone: gslb.example. is not a parent of the zone gslb.example.",
		}},
		{"typo", "{server: 192.0.2.53, tsig: {name: k, secret_file: tsig.key, secretfile: x}}", []string{
			`zones[0].delegation.tsig.secretfile: unknown key (did you mean "secret_file"?)`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantLoadErrors(t, delegationFixture(t, tc.delegation), tc.want)
		})
	}

	t.Run("bad secret", func(t *testing.T) {
		path := delegationFixture(t, "")
		writeFile(t, filepath.Join(filepath.Dir(path), "tsig.key"), "secret-that-is-not-base64\n")
		err := wantLoadErrors(t, path, []string{"zones[0].delegation.tsig.secret_file: " + filepath.Join(filepath.Dir(path), "tsig.key") + ": no base64 TSIG secret"})
		if strings.Contains(err.Error(), "secret-that-is-not-base64") {
			t.Errorf("the error quotes the file: %v", err)
		}
	})

	t.Run("unknown site", func(t *testing.T) {
		path := fixtureDir(t, replace(t, "        addresses: [127.0.0.1]\n", "        addresses: [127.0.0.1]\n        site: mars\n"))
		wantLoadErrors(t, path, []string{`zones[0].nameservers[0].site: unknown site "mars"`})
	})
}

func TestNoDelegation(t *testing.T) {
	l := mustLoad(t, goodFixture)
	if ds := l.Delegations(); len(ds) != 0 {
		t.Errorf("Delegations() = %+v, want none", ds)
	}
	d, ok := l.Delegation(0)
	if ok || d.Parent != "example." || len(d.NameServers) != 1 || d.Server != "" {
		t.Errorf("Delegation(0) = %+v, %v", d, ok)
	}
	if _, err := os.Stat(goodFixture); err != nil {
		t.Fatal(err)
	}
}
