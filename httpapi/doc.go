// Package httpapi is the HTTP API of a serve process: /healthz, /readyz,
// /metrics, and under /api/v1 explain, config, services, health, sites,
// kubernetes and the admin overrides. Its response types are the API's
// contract; `meridian explain` decodes ExplainResponse and Error.
//
//	api.go         API, the routes, healthz, readyz, JSON helpers
//	config.go      config: the settings, zones and sites, the services counted
//	services.go    services: a page of them
//	health.go      health: the response types and the handler
//	healthpage.go  health: a page of targets and of services, the filters
//	candidates.go  health: the services the state filter may keep
//	params.go      the query parameters: unknown ones refused, limit, cursor, filters
//	index.go       the services by name and the targets by key, once per publish
//	explain.go     explain: the response types and the parameter parsers the CLI reuses
//	admin.go       the admin overrides, behind the bearer token
//	sites.go       sites (gossip) and kubernetes (the leader)
//
// The lists (services, health) are paged: a page costs the same at any
// number of services, its size bounded by limit (at most 1000).
//
// Dependencies point one way: config <- control <- httpapi <- cmd. The
// API reads a control.Server through its accessors (ForServer), and the
// Server gets the API's handler from control.Options.API.
package httpapi
