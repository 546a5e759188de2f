// Package health will probe members (TCP, HTTP, HTTPS) from every site and
// publish their state into the gslb store through gslb.HealthView. It is
// built in issue #3; until then every member counts as up, which is what
// gslb.Select does when no health has been observed.
package health
