//go:build race

package dnsserver_test

const raceEnabled = true
