package config

import (
	"os"
	"path/filepath"

	"github.com/spf13/pflag"
)

// resolvePaths makes file paths absolute: paths written in the file are
// relative to the file's directory (so a config works from any working
// directory), paths given by a flag or the environment to the working
// directory (as a shell user expects).
func (c *Config) resolvePaths(dir string, flags *pflag.FlagSet) {
	if db := c.Geo.Database; db != "" && !filepath.IsAbs(db) {
		if changedFlag(flags, "geo-database") != nil || os.Getenv(envName("geo.database")) != "" {
			if abs, err := filepath.Abs(db); err == nil {
				c.Geo.Database = abs
			}
		} else {
			c.Geo.Database = filepath.Join(dir, db)
		}
	}
	for i := range c.Zones {
		if f := c.Zones[i].ZoneFile; f != "" && !filepath.IsAbs(f) {
			c.Zones[i].ZoneFile = filepath.Join(dir, f)
		}
	}
	c.resolveHealthPaths(dir)
	c.resolveGossipPaths(dir)
	c.resolveKubePaths(dir)
}

// watchFiles are the files a change of which should reload the config.
func (c *Config) watchFiles(file string) []string {
	files := []string{file}
	if c.Geo.Database != "" {
		files = append(files, c.Geo.Database)
	}
	for _, z := range c.Zones {
		if z.ZoneFile != "" {
			files = append(files, z.ZoneFile)
		}
	}
	files = append(files, c.healthFiles()...)
	if c.Gossip.KeyFile != "" {
		files = append(files, c.Gossip.KeyFile) // rotation: reloads reread it
	}
	if c.Kubernetes.Kubeconfig != "" {
		files = append(files, c.Kubernetes.Kubeconfig) // member clusters come and go
	}
	return files
}
