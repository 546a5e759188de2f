//go:build race

package proctest

// Race reports whether the tests run under -race: BuildMeridian builds the
// binary with it too, so a data race in a real process fails its test
// (Start reads the output).
const Race = true
