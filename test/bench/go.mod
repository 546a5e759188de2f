module github.com/meridian-gslb/meridian/test/bench

go 1.26.0

require (
	github.com/miekg/dns v1.1.73
	github.com/oschwald/maxminddb-golang/v2 v2.8.0
	golang.org/x/sys v0.49.0
)

require golang.org/x/net v0.62.0 // indirect
