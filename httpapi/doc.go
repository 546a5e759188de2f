// Package httpapi is the HTTP API of a serve process: /healthz, /readyz,
// /metrics, and under /api/v1 explain, config, services, health, sites,
// kubernetes and the admin overrides. Its response types are the API's
// contract; `meridian explain` decodes ExplainResponse and Error.
//
//	api.go      API, the routes, healthz, readyz, config, services, JSON helpers
//	explain.go  explain: the response types and the parameter parsers the CLI reuses
//	health.go   health: targets, verdicts, every member's health
//	admin.go    the admin overrides, behind the bearer token
//	sites.go    sites (gossip) and kubernetes (the leader)
//
// Dependencies point one way: config <- control <- httpapi <- cmd. The
// API reads a control.Server through its accessors (ForServer), and the
// Server gets the API's handler from control.Options.API.
package httpapi
