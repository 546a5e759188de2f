package kube

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meridian-gslb/meridian/gslb"
)

// policyContext is what semantic validation checks a policy against.
type policyContext struct {
	zones    []string        // canonical
	sites    map[string]bool // every known site: the configured ones and the clusters'
	clusters map[string]bool // member cluster names
	base     gslb.Policy
}

// compiledFields are the shared policy fields, validated and converted.
type compiledFields struct {
	strategy     gslb.Strategy
	ttl          *uint32
	degradedTTL  *uint32
	minUp        *int
	answers      *int
	hc           *compiledHealthCheck
	persistence  *PersistenceSpec
	down         *gslb.DownResponse
	hostnameVIPs string
}

type compiledHealthCheck struct {
	spec     HealthCheckSpec
	interval time.Duration
	timeout  time.Duration
}

type siteOverride struct {
	weight   *uint32
	priority *int
	public   []netip.Addr
}

// compiledGlobal is an accepted GlobalPolicy ready to select objects.
type compiledGlobal struct {
	name       string
	generation int64
	objSel     labels.Selector // nil: every object
	nsSel      labels.Selector // nil: every namespace
	namespaces map[string]bool // nil: every namespace
	kinds      map[string]bool // nil: every kind
	clusters   map[string]bool // nil: every cluster
	sites      map[string]siteOverride
	fields     compiledFields
	warnings   []string
}

// compiledHost is an accepted HostPolicy.
type compiledHost struct {
	name       string
	generation int64
	fqdn       string
	sites      map[string]siteOverride
	thirdParty []gslb.Member
	fields     compiledFields
	warnings   []string
}

// problems collects validation errors as "path: message".
type problems []string

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, path+": "+fmt.Sprintf(format, args...))
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.New(strings.Join(p, "; "))
}

func compileGlobal(name string, gen int64, s *GlobalPolicySpec, pc *policyContext) (*compiledGlobal, error) {
	var errs problems
	c := &compiledGlobal{name: name, generation: gen}
	if sel := s.Selector; sel != nil {
		var err error
		if sel.ObjectSelector != nil {
			if c.objSel, err = metav1.LabelSelectorAsSelector(sel.ObjectSelector); err != nil {
				errs.add("spec.selector.objectSelector", "%v", err)
			}
		}
		if sel.NamespaceSelector != nil {
			if c.nsSel, err = metav1.LabelSelectorAsSelector(sel.NamespaceSelector); err != nil {
				errs.add("spec.selector.namespaceSelector", "%v", err)
			}
		}
		if len(sel.Namespaces) > 0 {
			c.namespaces = map[string]bool{}
			for i, ns := range sel.Namespaces {
				if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
					errs.add(fmt.Sprintf("spec.selector.namespaces[%d]", i), "%q: %s", ns, strings.Join(msgs, ", "))
				}
				c.namespaces[ns] = true
			}
		}
		if len(sel.Kinds) > 0 {
			c.kinds = map[string]bool{}
			for i, k := range sel.Kinds {
				if !slices.Contains(objectKinds, k) {
					errs.add(fmt.Sprintf("spec.selector.kinds[%d]", i), "unknown kind %q (want one of %s)", k, strings.Join(objectKinds, ", "))
				}
				c.kinds[k] = true
			}
		}
	}
	if len(s.Clusters) > 0 {
		c.clusters = map[string]bool{}
		for i, cl := range s.Clusters {
			if cl == "" {
				errs.add(fmt.Sprintf("spec.clusters[%d]", i), "empty cluster name")
			} else if !pc.clusters[cl] {
				c.warnings = append(c.warnings, fmt.Sprintf("cluster %q is not a configured member cluster", cl))
			}
			c.clusters[cl] = true
		}
	}
	c.sites = map[string]siteOverride{}
	for i, st := range s.Sites {
		p := fmt.Sprintf("spec.sites[%d]", i)
		o := compileSite(p, st.Cluster, st.Weight, st.Priority, nil, pc, &errs, &c.warnings)
		if _, dup := c.sites[st.Cluster]; dup {
			errs.add(p+".cluster", "cluster %q is listed twice", st.Cluster)
		}
		c.sites[st.Cluster] = o
	}
	c.fields = compileFields(&s.PolicyFields, pc, &errs)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return c, nil
}

func compileHost(name string, gen int64, s *HostPolicySpec, pc *policyContext) (*compiledHost, error) {
	var errs problems
	c := &compiledHost{name: name, generation: gen}
	c.fqdn = gslb.CanonicalName(s.FQDN)
	switch {
	case s.FQDN == "":
		errs.add("spec.fqdn", "required")
	case strings.Contains(s.FQDN, "*"):
		errs.add("spec.fqdn", "%q: wildcards are not supported", s.FQDN)
	case checkName(c.fqdn) != nil:
		errs.add("spec.fqdn", "%v", checkName(c.fqdn))
	case zoneFor(c.fqdn, pc.zones) == "":
		errs.add("spec.fqdn", "%s is not inside any configured zone (%s)", c.fqdn, strings.Join(pc.zones, ", "))
	}
	c.sites = map[string]siteOverride{}
	for i, st := range s.Sites {
		p := fmt.Sprintf("spec.sites[%d]", i)
		o := compileSite(p, st.Cluster, st.Weight, st.Priority, st.PublicAddresses, pc, &errs, &c.warnings)
		if _, dup := c.sites[st.Cluster]; dup {
			errs.add(p+".cluster", "cluster %q is listed twice", st.Cluster)
		}
		c.sites[st.Cluster] = o
	}
	c.fields = compileFields(&s.PolicyFields, pc, &errs)
	probeOK := c.fields.hc == nil || c.fields.hc.spec.Kind != "none"
	for i, tp := range s.ThirdPartyMembers {
		p := fmt.Sprintf("spec.thirdPartyMembers[%d]", i)
		m := gslb.Member{Site: tp.Site, Weight: gslb.DefaultWeight}
		switch {
		case tp.Site == "":
			errs.add(p+".site", "required")
		case !pc.sites[tp.Site]:
			errs.add(p+".site", "unknown site %q", tp.Site)
		}
		switch {
		case len(tp.Addresses) > 0 && tp.Hostname != "":
			errs.add(p, "give addresses or a hostname, not both")
		case len(tp.Addresses) == 0 && tp.Hostname == "":
			errs.add(p, "give addresses or a hostname")
		case tp.Hostname != "":
			m.Hostname = gslb.CanonicalName(tp.Hostname)
			if err := checkName(m.Hostname); err != nil || strings.Contains(m.Hostname, "*") {
				errs.add(p+".hostname", "%q is not a host name", tp.Hostname)
			} else if m.Hostname == c.fqdn {
				errs.add(p+".hostname", "a CNAME to the FQDN itself would loop")
			}
		}
		for j, a := range tp.Addresses {
			ip, err := netip.ParseAddr(a)
			if err != nil || ip.Zone() != "" {
				errs.add(fmt.Sprintf("%s.addresses[%d]", p, j), "%q is not an IP address", a)
				continue
			}
			m.Addresses = append(m.Addresses, ip.Unmap())
		}
		slices.SortFunc(m.Addresses, netip.Addr.Compare)
		m.Addresses = slices.Compact(m.Addresses)
		if tp.Weight != nil {
			w, ok := rangeCheck(p+".weight", *tp.Weight, 0, 65535, &errs)
			m.Weight = uint32(w)
			_ = ok
		}
		if tp.Priority != nil {
			pr, _ := rangeCheck(p+".priority", *tp.Priority, 0, 1000, &errs)
			m.Priority = int(pr)
		}
		if tp.ProbeAddress != "" {
			ip, err := netip.ParseAddr(tp.ProbeAddress)
			switch {
			case err != nil || ip.Zone() != "":
				errs.add(p+".probeAddress", "%q is not an IP address", tp.ProbeAddress)
			case ip.IsUnspecified() || ip.IsMulticast():
				errs.add(p+".probeAddress", "%s cannot be probed: want a unicast address", ip)
			case !probeOK:
				errs.add(p+".probeAddress", "the health check is kind none: nothing is probed")
			default:
				m.ProbeAddress = ip.Unmap()
			}
		}
		for _, o := range c.thirdParty {
			if o.ID() == m.ID() && (len(m.Addresses) > 0 || m.Hostname != "") {
				errs.add(p, "duplicate member %s", m.ID())
			}
		}
		c.thirdParty = append(c.thirdParty, m)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return c, nil
}

func compileSite(p, cluster string, weight, priority *int64, public []string, pc *policyContext, errs *problems, warnings *[]string) siteOverride {
	var o siteOverride
	if cluster == "" {
		errs.add(p+".cluster", "required")
	} else if !pc.clusters[cluster] {
		*warnings = append(*warnings, fmt.Sprintf("cluster %q is not a configured member cluster", cluster))
	}
	if weight != nil {
		if w, ok := rangeCheck(p+".weight", *weight, 0, 65535, errs); ok {
			u := uint32(w)
			o.weight = &u
		}
	}
	if priority != nil {
		if v, ok := rangeCheck(p+".priority", *priority, 0, 1000, errs); ok {
			i := int(v)
			o.priority = &i
		}
	}
	for j, a := range public {
		ip, err := netip.ParseAddr(a)
		if err != nil || ip.Zone() != "" {
			errs.add(fmt.Sprintf("%s.publicAddresses[%d]", p, j), "%q is not an IP address", a)
			continue
		}
		o.public = append(o.public, ip.Unmap())
	}
	slices.SortFunc(o.public, netip.Addr.Compare)
	o.public = slices.Compact(o.public)
	return o
}

func rangeCheck(path string, v, lo, hi int64, errs *problems) (int64, bool) {
	if v < lo || v > hi {
		errs.add(path, "must be between %d and %d, got %d", lo, hi, v)
		return 0, false
	}
	return v, true
}

var (
	methodRE = regexp.MustCompile(`^[A-Z]+$`)
	statusRE = regexp.MustCompile(`^([1-5][0-9][0-9])(?:-([1-5][0-9][0-9]))?$`)
)

func compileFields(f *PolicyFields, pc *policyContext, errs *problems) compiledFields {
	var c compiledFields
	if f.Strategy != "" {
		st := gslb.Strategy(f.Strategy)
		switch {
		case !slices.Contains(gslb.Strategies, st):
			errs.add("spec.strategy", "unknown strategy %q (want one of %v)", f.Strategy, gslb.Strategies)
		case st == gslb.StrategyTopology && len(pc.base.Topology) == 0:
			errs.add("spec.strategy", "strategy topology needs topology rules, and the base configuration has none")
		default:
			c.strategy = st
		}
	}
	if f.TTL != nil {
		if v, ok := rangeCheck("spec.ttl", *f.TTL, 1, 86400, errs); ok {
			u := uint32(v)
			c.ttl = &u
		}
	}
	if f.DegradedTTL != nil {
		if v, ok := rangeCheck("spec.degradedTTL", *f.DegradedTTL, 0, 86400, errs); ok {
			u := uint32(v)
			c.degradedTTL = &u
		}
	}
	if f.MinUp != nil {
		if v, ok := rangeCheck("spec.minUp", *f.MinUp, 0, 1000, errs); ok {
			i := int(v)
			if i == 0 {
				i = gslb.DefaultMinUp
			}
			c.minUp = &i
		}
	}
	if f.Answers != nil {
		if v, ok := rangeCheck("spec.answers", *f.Answers, 0, gslb.MaxAddrs, errs); ok {
			i := int(v)
			c.answers = &i
		}
	}
	if h := f.HealthCheck; h != nil {
		c.hc = compileHealthCheck(h, errs)
	}
	if p := f.Persistence; p != nil {
		if p.IPv4Mask != nil {
			rangeCheck("spec.persistence.ipv4Mask", *p.IPv4Mask, 0, 32, errs)
		}
		if p.IPv6Mask != nil {
			rangeCheck("spec.persistence.ipv6Mask", *p.IPv6Mask, 0, 128, errs)
		}
		c.persistence = p
	}
	if d := f.DownResponse; d != nil {
		dr := &gslb.DownResponse{Type: gslb.DownType(d.Type)}
		switch dr.Type {
		case gslb.DownNone, gslb.DownAll:
			if len(d.Addresses) > 0 {
				errs.add("spec.downResponse.addresses", "addresses are only used with type fallback")
			}
		case gslb.DownFallback:
			if len(d.Addresses) == 0 {
				errs.add("spec.downResponse.addresses", "type fallback needs at least one address")
			}
		default:
			errs.add("spec.downResponse.type", "unknown down response %q (want none, all or fallback)", d.Type)
		}
		for i, a := range d.Addresses {
			ip, err := netip.ParseAddr(a)
			if err != nil || ip.Zone() != "" {
				errs.add(fmt.Sprintf("spec.downResponse.addresses[%d]", i), "%q is not an IP address", a)
				continue
			}
			dr.Addresses = append(dr.Addresses, ip.Unmap())
		}
		c.down = dr
	}
	switch f.HostnameVIPs {
	case "", HostnameVIPsCNAME, HostnameVIPsResolve:
		c.hostnameVIPs = f.HostnameVIPs
	default:
		errs.add("spec.hostnameVIPs", "unknown mode %q (want cname or resolve)", f.HostnameVIPs)
	}
	return c
}

func compileHealthCheck(h *HealthCheckSpec, errs *problems) *compiledHealthCheck {
	c := &compiledHealthCheck{spec: *h}
	const p = "spec.healthCheck"
	if h.Kind != "" && !slices.Contains(gslb.HealthCheckKinds, h.Kind) {
		errs.add(p+".kind", "unknown kind %q (want one of %v)", h.Kind, gslb.HealthCheckKinds)
	}
	if h.Port != nil {
		rangeCheck(p+".port", *h.Port, 1, 65535, errs)
	}
	if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
		errs.add(p+".path", "must start with /")
	}
	if h.Method != "" && !methodRE.MatchString(h.Method) {
		errs.add(p+".method", "%q is not an HTTP method", h.Method)
	}
	for i, s := range h.ExpectStatus {
		m := statusRE.FindStringSubmatch(s)
		if m == nil {
			errs.add(fmt.Sprintf("%s.expectStatus[%d]", p, i), "%q: want a code (200) or a range (200-399)", s)
			continue
		}
		if m[2] != "" {
			lo, _ := strconv.Atoi(m[1])
			hi, _ := strconv.Atoi(m[2])
			if lo > hi {
				errs.add(fmt.Sprintf("%s.expectStatus[%d]", p, i), "%q: empty range", s)
			}
		}
	}
	var err error
	if h.Interval != "" {
		if c.interval, err = time.ParseDuration(h.Interval); err != nil || c.interval < 100*time.Millisecond || c.interval > time.Hour {
			errs.add(p+".interval", "%q: want a duration between 100ms and 1h", h.Interval)
		}
	}
	if h.Timeout != "" {
		if c.timeout, err = time.ParseDuration(h.Timeout); err != nil || c.timeout < 10*time.Millisecond {
			errs.add(p+".timeout", "%q: want a duration of at least 10ms", h.Timeout)
		}
	}
	if c.interval > 0 && c.timeout > 0 && c.timeout >= c.interval {
		errs.add(p+".timeout", "must be less than interval (%s >= %s)", h.Timeout, h.Interval)
	}
	if h.Rise != nil {
		rangeCheck(p+".rise", *h.Rise, 1, 100, errs)
	}
	if h.Fall != nil {
		rangeCheck(p+".fall", *h.Fall, 1, 100, errs)
	}
	return c
}

// applyPolicy overrides the set fields of p.
func (c *compiledFields) applyPolicy(p *gslb.Policy) {
	if c.strategy != "" {
		p.Strategy = c.strategy
	}
	if c.ttl != nil {
		p.TTL = *c.ttl
	}
	if c.degradedTTL != nil {
		p.DegradedTTL = *c.degradedTTL
	}
	if c.minUp != nil {
		p.MinUp = *c.minUp
	}
	if c.answers != nil {
		p.Answers = *c.answers
	}
	if ps := c.persistence; ps != nil {
		if ps.Enabled != nil {
			p.Persistence.Enabled = *ps.Enabled
		}
		if ps.IPv4Mask != nil {
			p.Persistence.Mask.IPv4 = int(*ps.IPv4Mask)
		}
		if ps.IPv6Mask != nil {
			p.Persistence.Mask.IPv6 = int(*ps.IPv6Mask)
		}
	}
	if c.down != nil {
		p.Down = gslb.DownResponse{Type: c.down.Type, Addresses: slices.Clone(c.down.Addresses)}
	}
}

// applyHealthCheck overlays the template on hc (nil: no check yet) and
// returns the result, a new value.
func (c *compiledFields) applyHealthCheck(hc *gslb.HealthCheck) *gslb.HealthCheck {
	if c.hc == nil {
		return hc
	}
	var out gslb.HealthCheck
	if hc != nil {
		out = *hc
		out.ExpectStatus = slices.Clone(hc.ExpectStatus)
	}
	h := &c.hc.spec
	if h.Kind != "" {
		out.Kind = h.Kind
	}
	if out.Kind == "" {
		out.Kind = "tcp"
	}
	if h.Port != nil {
		out.Port = uint16(*h.Port)
	}
	if h.Path != "" {
		out.Path = h.Path
	}
	if h.Method != "" {
		out.Method = h.Method
	}
	if h.Host != "" {
		out.Host = h.Host
	}
	if h.SNI != "" {
		out.SNI = h.SNI
	}
	if h.BodyContains != "" {
		out.BodyContains = h.BodyContains
	}
	if len(h.ExpectStatus) > 0 {
		out.ExpectStatus = slices.Clone(h.ExpectStatus)
	}
	if h.TLSSkipVerify != nil {
		out.TLSSkipVerify = *h.TLSSkipVerify
	}
	if c.hc.interval > 0 {
		out.Interval = c.hc.interval
	}
	if c.hc.timeout > 0 {
		out.Timeout = c.hc.timeout
	}
	if h.Rise != nil {
		out.Rise = int(*h.Rise)
	}
	if h.Fall != nil {
		out.Fall = int(*h.Fall)
	}
	return &out
}

// selects reports whether the policy takes an object.
func (c *compiledGlobal) selects(cluster, kind, namespace string, objLabels, nsLabels labels.Set) bool {
	if c.clusters != nil && !c.clusters[cluster] {
		return false
	}
	if c.kinds != nil && !c.kinds[kind] {
		return false
	}
	if c.namespaces != nil && !c.namespaces[namespace] {
		return false
	}
	if c.nsSel != nil && !c.nsSel.Matches(nsLabels) {
		return false
	}
	if c.objSel != nil && !c.objSel.Matches(objLabels) {
		return false
	}
	return true
}

// checkName checks a canonical DNS name: RFC 1035 lengths and host-name
// characters (letters, digits, hyphen, underscore).
func checkName(n string) error {
	switch {
	case n == "" || n == ".":
		return errors.New("a host name is required")
	case !strings.HasSuffix(n, "."):
		return fmt.Errorf("%q is not fully qualified", n)
	case len(n) > 254:
		return fmt.Errorf("%q is longer than 253 characters", n)
	}
	for _, l := range strings.Split(strings.TrimSuffix(n, "."), ".") {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("%q has an empty label or one longer than 63 characters", n)
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '*') {
				return fmt.Errorf("%q has a character that does not belong in a host name", n)
			}
		}
	}
	return nil
}

// zoneFor returns the longest configured zone that holds name, or "".
func zoneFor(name string, zones []string) string {
	best := ""
	for _, z := range zones {
		if gslb.InZone(name, z) && len(z) > len(best) {
			best = z
		}
	}
	return best
}

func (c *compiledGlobal) warningList() []string { return c.warnings }
func (c *compiledHost) warningList() []string   { return c.warnings }
