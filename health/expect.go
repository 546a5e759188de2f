package health

import "github.com/meridian-gslb/meridian/gslb"

// StatusRange is an inclusive range of HTTP status codes, gslb's: the
// text form and its parser belong to the health-check rule.
type StatusRange = gslb.StatusRange

// statusOK reports whether code is in any of the ranges.
func statusOK(code int, ranges []StatusRange) bool {
	for _, r := range ranges {
		if r.Contains(code) {
			return true
		}
	}
	return false
}
