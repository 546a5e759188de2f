//go:build race

package main

// raceEnabled: the tests run under -race, so the binary they start is built
// with it too, and a data race in a real process fails its test
// (proctest.Start reads the output).
const raceEnabled = true
