// Package config reads Meridian's configuration file: the file format
// (YAML, JSON or TOML through viper, the only importer of viper), the
// MERIDIAN_* environment and serve's flags laid over it, defaults,
// validation with every problem named by its path in the file
// ("services[2].health_check.port: ..."), paths relative to the file, and
// the list of files whose change means a reload. Load returns a Loaded:
// the validated gslb.State of the file's zones, sites and services, and
// the local settings (listeners, logging, health, gossip, kubernetes,
// admin). It decides nothing at run time; control serves what it loads.
//
//	config.go    Config: the file, key for key, and its redacted form
//	defaults.go  the process settings left out
//	check.go     the process settings gslb does not know (listeners, log)
//	logging.go   log.level and the process logger
//	convert.go   zones, sites, services and geo rules into gslb's model
//	health.go    health settings and checks, judged by gslb.HealthCheck's rules
//	admin.go     the admin token and the file's overrides; FindSite, FindMember
//	gossip.go    the gossip section and what each role allows
//	kube.go      the kubernetes section and its default policy
//	zones.go     zone files read in, static records checked, the geo database
//	read.go      reading with viper: environment and flag overrides
//	split.go     the services list cut out of a YAML file, entry by entry
//	items.go     the entries parsed and decoded in parallel, as viper would
//	fastdecode.go plain entries decoded straight from yaml's nodes
//	hooks.go     decode conversions (durations, numbers, lists, status codes)
//	decode.go    decode errors in the file's terms, with typo suggestions
//	problems.go  collecting and ordering the problems of one load
//	paths.go     relative paths and the files to watch
//	load.go      Load and Loaded
//	loader.go    Loader: reloads that decode only the services that changed
//
// Dependencies point one way: geo <- gslb <- {health, sites, dnsserver}
// <- config <- control <- httpapi <- cmd (test/presubmit checks it).
package config
