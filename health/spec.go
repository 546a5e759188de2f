package health

import (
	"errors"
	"fmt"

	"github.com/meridian-gslb/meridian/gslb"
)

// CheckFromSpec turns the health check a State carries into a Check, as
// written: defaults are not applied and nothing is validated beyond the
// two text fields it parses (expect_status, jitter), whose errors name
// those fields. Call Defaults and Validate on the result, or let NewPlan
// and NewTarget do it.
func CheckFromSpec(hc *gslb.HealthCheck) (Check, error) {
	c := Check{
		Kind:          Kind(hc.Kind),
		Port:          hc.Port,
		Interval:      hc.Interval,
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
	var errs []error
	for i, s := range hc.ExpectStatus {
		rs, err := ParseStatusRanges(s)
		if err == nil && len(rs) == 0 {
			err = errors.New("empty")
		}
		if err != nil {
			errs = append(errs, &gslb.FieldError{Path: fmt.Sprintf("expect_status[%d]", i), Msg: fmt.Sprintf("want a code (200) or a range (200-399), got %q", s)})
			continue
		}
		c.ExpectStatus = append(c.ExpectStatus, rs...)
	}
	if hc.Jitter != "" {
		j, err := ParseJitter(hc.Jitter)
		if err != nil {
			errs = append(errs, &gslb.FieldError{Path: "jitter", Msg: fmt.Sprintf("want a percentage (10%%), a fraction (0.1), a duration (250ms) or 0, got %q", hc.Jitter)})
		}
		c.Jitter = j
	}
	return c, errors.Join(errs...)
}

// SpecChecks is the default PlanOptions.Check: each service's own
// gslb.Service.HealthCheck.
func SpecChecks(svc *gslb.Service) (Check, bool, error) {
	if svc.HealthCheck == nil {
		return Check{}, false, nil
	}
	c, err := CheckFromSpec(svc.HealthCheck)
	return c, err == nil, err
}
