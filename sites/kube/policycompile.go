package kube

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meridian-gslb/meridian/gslb"
)

// policyContext is what semantic validation checks a policy against.
type policyContext struct {
	zones     []string        // canonical
	sites     map[string]bool // every known site: the configured ones and the clusters'
	clusters  map[string]bool // member cluster names
	base      gslb.Policy
	baseCheck *gslb.HealthCheck // the config's default check, or nil
}

// siteOverride is a policy's weight, priority and NAT addresses for the
// members of one cluster.
type siteOverride struct {
	weight     *uint32
	weightPath string // where weight is written: spec.sites[i].weight
	priority   *int
	public     []netip.Addr
}

// thirdPartyMember is a HostPolicy's member outside Kubernetes.
type thirdPartyMember struct {
	gslb.Member
	weightPath string // spec.thirdPartyMembers[i].weight; "" when unset
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
	thirdParty []thirdPartyMember
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

// compileGlobal validates and converts a GlobalPolicy.
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
		compileSite(c.sites, fmt.Sprintf("spec.sites[%d]", i), st.Cluster, st.Weight, st.Priority, nil, pc, &errs, &c.warnings)
	}
	c.fields = compileFields(&s.PolicyFields, pc, &errs)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// compileHost validates and converts a HostPolicy.
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
		compileSite(c.sites, fmt.Sprintf("spec.sites[%d]", i), st.Cluster, st.Weight, st.Priority, st.PublicAddresses, pc, &errs, &c.warnings)
	}
	c.fields = compileFields(&s.PolicyFields, pc, &errs)
	probeOK := c.fields.probes()
	for i, tp := range s.ThirdPartyMembers {
		p := fmt.Sprintf("spec.thirdPartyMembers[%d]", i)
		m := thirdPartyMember{Member: gslb.Member{Site: tp.Site, Weight: gslb.DefaultWeight}}
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
		m.Addresses = parseAddrSet(p+".addresses", tp.Addresses, &errs)
		if tp.Weight != nil {
			w, _ := rangeCheck(p+".weight", *tp.Weight, 0, 65535, &errs)
			m.Weight, m.weightPath = uint32(w), p+".weight"
		}
		if tp.Priority != nil {
			pr, _ := rangeCheck(p+".priority", *tp.Priority, 0, 1000, &errs)
			m.Priority = int(pr)
		}
		if tp.ProbeAddress != "" {
			ip, err := gslb.ParseAddr(tp.ProbeAddress)
			if err == nil {
				err = gslb.CheckProbeAddress(ip)
			}
			switch {
			case err != nil:
				errs.add(p+".probeAddress", "%v", err)
			case !probeOK:
				errs.add(p+".probeAddress", "the health check is kind none: nothing is probed")
			default:
				m.ProbeAddress = ip.Unmap()
			}
		}
		if tp.ProbePort != nil {
			if v, ok := rangeCheck(p+".probePort", *tp.ProbePort, 1, 65535, &errs); ok && !probeOK {
				errs.add(p+".probePort", "the health check is kind none: nothing is probed")
			} else if ok {
				m.ProbePort = uint16(v)
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

// compileSite reads one entry of spec.sites (at path p) into sites.
func compileSite(sites map[string]siteOverride, p, cluster string, weight, priority *int64, public []string, pc *policyContext, errs *problems, warnings *[]string) {
	var o siteOverride
	if cluster == "" {
		errs.add(p+".cluster", "required")
	} else if !pc.clusters[cluster] {
		*warnings = append(*warnings, fmt.Sprintf("cluster %q is not a configured member cluster", cluster))
	}
	if weight != nil {
		if w, ok := rangeCheck(p+".weight", *weight, 0, 65535, errs); ok {
			u := uint32(w)
			o.weight, o.weightPath = &u, p+".weight"
		}
	}
	if priority != nil {
		if v, ok := rangeCheck(p+".priority", *priority, 0, 1000, errs); ok {
			i := int(v)
			o.priority = &i
		}
	}
	o.public = parseAddrSet(p+".publicAddresses", public, errs)
	if _, dup := sites[cluster]; dup {
		errs.add(p+".cluster", "cluster %q is listed twice", cluster)
	}
	sites[cluster] = o
}

// rangeCheck checks a number the CRD schema also bounds: an object
// written before a schema change, or through a server without it, still
// gets a clear error.
func rangeCheck(path string, v, lo, hi int64, errs *problems) (int64, bool) {
	if v < lo || v > hi {
		errs.add(path, "must be between %d and %d, got %d", lo, hi, v)
		return 0, false
	}
	return v, true
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

func (c *compiledGlobal) warningList() []string { return c.warnings }
func (c *compiledHost) warningList() []string   { return c.warnings }

// key names the policy; vetoKey names this version of it.
func (c *compiledGlobal) key() PolicyKey   { return PolicyKey{KindGlobalPolicy, c.name} }
func (c *compiledHost) key() PolicyKey     { return PolicyKey{KindHostPolicy, c.name} }
func (c *compiledGlobal) vetoKey() vetoKey { return vetoKey{c.key(), c.generation} }
func (c *compiledHost) vetoKey() vetoKey   { return vetoKey{c.key(), c.generation} }
