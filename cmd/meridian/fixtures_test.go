package main

// fixtures are the config package's test configurations, which the CLI
// tests run the binary on; goodFixture loads.
const (
	fixtures    = "../../config/testdata"
	goodFixture = fixtures + "/good.yaml"
)
