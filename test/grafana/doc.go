// Package grafana checks the Grafana dashboard the Helm chart ships
// (deploy/helm/meridian/dashboards/meridian.json) against Grafana's own
// dashboard schema: the types of github.com/grafana/grafana-foundation-sdk,
// generated from Grafana's schema (the CUE kinds), decoded strictly.
//
// It is a module of its own so that the SDK stays out of the server's
// go.mod; `make nested` runs it. That every query names a metric the
// server exports is checked in the main module, next to the server
// (control/dashboard_metrics_test.go).
package grafana
