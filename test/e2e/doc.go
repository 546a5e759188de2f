// Package e2e holds Meridian's end-to-end tests: the real binary, started as
// a subprocess on loopback addresses, queried with dig and a miekg/dns
// client, checked by zonemaster-cli and used behind a real unbound resolver.
// Every subprocess starts through test/proctest (process group, parent-death
// signal, port 0 and a ready file). Everything lives in _test.go files; see
// docs/testing.md.
package e2e
