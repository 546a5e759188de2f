package config

import (
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/meridian-gslb/meridian/gslb"
)

// pathField is one file path the configuration names.
type pathField struct {
	path *string
	// watch: a change of the file reloads the configuration.
	watch bool
}

// pathFields lists every file path of c, the one table resolvePaths and
// watchFiles read, so a new path key is added once.
func (c *Config) pathFields() []pathField {
	fields := []pathField{{&c.Geo.Database, true}}
	for i := range c.Zones {
		fields = append(fields, pathField{&c.Zones[i].ZoneFile, true})
		if d := c.Zones[i].Delegation; d != nil {
			fields = append(fields, pathField{&d.TSIG.SecretFile, true}) // key rotation: reloads reread it
		}
	}
	fields = append(fields, pathField{&c.DNS.CookieSecretFile, false})
	fields = append(fields, pathField{&c.DNS.DNSSECKeyDirectory, false}) // keys are read when a zone's key list changes
	for i := range c.DNS.TSIGKeys {
		fields = append(fields, pathField{&c.DNS.TSIGKeys[i].SecretFile, false}) // the DNS section needs a restart
	}
	fields = append(fields, pathField{&c.Admin.TokenFile, true})
	if dc := c.Health.DefaultCheck; dc != nil {
		fields = append(fields, pathField{&dc.CAFile, true})
	}
	var pc gslb.Pacer
	for i := range c.Services {
		pc.Step()
		if hc := c.Services[i].HealthCheck; hc != nil {
			fields = append(fields, pathField{&hc.CAFile, true})
		}
	}
	return append(fields,
		pathField{&c.Gossip.KeyFile, true}, // rotation: reloads reread it
		pathField{&c.Gossip.StateFile, false},
		pathField{&c.Kubernetes.Kubeconfig, true}, // member clusters come and go
		pathField{&c.Kubernetes.PolicyKubeconfig, false},
	)
}

// resolvePaths makes file paths absolute: paths written in the file are
// relative to the file's directory (so a config works from any working
// directory), paths given by a flag or the environment to the working
// directory (as a shell user expects; only geo.database has a flag).
func (c *Config) resolvePaths(dir string, flags *pflag.FlagSet) {
	if db := c.Geo.Database; db != "" && !filepath.IsAbs(db) {
		if changedFlag(flags, "geo-database") != nil || os.Getenv(envName("geo.database")) != "" {
			if abs, err := filepath.Abs(db); err == nil {
				c.Geo.Database = abs
			}
		}
	}
	for _, f := range c.pathFields() {
		if *f.path != "" && !filepath.IsAbs(*f.path) {
			*f.path = filepath.Join(dir, *f.path)
		}
	}
}

// watchFiles are the files a change of which should reload the config.
func (c *Config) watchFiles(file string) []string {
	files := []string{file}
	for _, f := range c.pathFields() {
		if f.watch && *f.path != "" {
			files = append(files, *f.path)
		}
	}
	return files
}
