package health

import (
	"errors"

	"github.com/meridian-gslb/meridian/gslb"
)

// CheckFromSpec turns a gslb.HealthCheck into a Check as written: no
// defaults, no validation beyond parsing the text fields
// (expect_status, jitter, load_from), whose errors are the rule's *gslb.FieldError
// values. Compile is what probing uses; this form suits showing a check.
func CheckFromSpec(hc *gslb.HealthCheck) (Check, error) {
	c := Check{
		Kind:          Kind(hc.Kind),
		Port:          hc.Port,
		Interval:      hc.Interval,
		FastInterval:  hc.FastInterval,
		Timeout:       hc.Timeout,
		Rise:          hc.Rise,
		Fall:          hc.Fall,
		Method:        hc.Method,
		Path:          hc.Path,
		Host:          hc.Host,
		BodyContains:  hc.BodyContains,
		SNI:           hc.SNI,
		TLSSkipVerify: hc.TLSSkipVerify,
		CAPEM:         hc.CAPEM,
	}
	statuses, statusErr := hc.ExpectedStatuses()
	c.ExpectStatus = statuses
	jitter, jitterErr := hc.JitterValue()
	c.Jitter = jitter
	var loadErr error
	if hc.LoadFrom != "" {
		// Kept as written when it does not parse, canonical when it does.
		c.LoadFrom = hc.LoadFrom
		if lf, err := gslb.ParseLoadFrom(hc.LoadFrom); err != nil {
			loadErr = &gslb.FieldError{Path: "load_from", Msg: err.Error()}
		} else {
			c.LoadFrom, c.loadFrom = lf.String(), lf
		}
	}
	return c, errors.Join(statusErr, jitterErr, loadErr)
}
