package health

import "github.com/meridian-gslb/meridian/gslb"

// StatusRange is an inclusive range of HTTP status codes, gslb's: the
// text form and its parser belong to the health-check rule.
type StatusRange = gslb.StatusRange

// ParseStatusRange parses "200" or "200-399".
//
// Deprecated: transitional, use gslb.ParseStatusRange.
func ParseStatusRange(s string) (StatusRange, error) { return gslb.ParseStatusRange(s) }

// ParseStatusRanges parses a list such as "200,204,300-399".
//
// Deprecated: transitional, use gslb.ParseStatusRanges (or
// gslb.HealthCheck.ExpectedStatuses).
func ParseStatusRanges(s string) ([]StatusRange, error) { return gslb.ParseStatusRanges(s) }

// statusOK reports whether code is in any of the ranges.
func statusOK(code int, ranges []StatusRange) bool {
	for _, r := range ranges {
		if r.Contains(code) {
			return true
		}
	}
	return false
}
