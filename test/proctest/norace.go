//go:build !race

package proctest

// Race reports whether the tests run under -race (see race.go).
const Race = false
