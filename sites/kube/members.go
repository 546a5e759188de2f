package kube

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"

	"github.com/meridian-gslb/meridian/gslb"
)

// assemble builds the service of every FQDN an object or a HostPolicy's
// third-party members bring.
func (b *builder) assemble() {
	fqdns := map[string]bool{}
	for f := range b.byFQDN {
		fqdns[f] = true
	}
	for f, h := range b.hosts {
		if len(h.thirdParty) > 0 {
			fqdns[f] = true
		}
	}
	// about one member per source: sized once rather than grown, the
	// maps of every member cost half
	n := 0
	for _, srcs := range b.byFQDN {
		n += len(srcs)
	}
	b.out.Readiness = make(map[gslb.MemberRef]bool, n)
	b.out.Capacity = make(map[gslb.MemberRef]uint16, n)
	for _, f := range slices.Sorted(maps.Keys(fqdns)) {
		if svc, ok := b.service1(f); ok {
			b.out.Services = append(b.out.Services, svc)
		}
	}
}

// service1 builds the service of one FQDN.
func (b *builder) service1(fqdn string) (gslb.Service, bool) {
	srcs := b.byFQDN[fqdn]
	hp := b.hosts[fqdn]
	gov := governing(srcs)
	pol, hc, mode := b.effectivePolicy(srcs, gov, hp)
	probe := hc.Probes()

	members := b.clusterMembers(fqdn, b.accumulate(srcs, hc), gov, hp, mode, probe)
	if probe {
		assignProbePorts(hc, members)
	}

	svc := gslb.Service{Name: fqdn, Policy: pol, HealthCheck: hc}
	seen := map[string]bool{}
	var drainedBy []weightSource // who set each weight-0 member's weight
	for _, k := range members {
		id := k.m.ID()
		if seen[id] {
			continue
		}
		seen[id] = true
		svc.Members = append(svc.Members, k.m)
		ref := gslb.MemberRef{Service: fqdn, Member: id}
		b.out.Readiness[ref] = k.ready
		if k.capacity != 0 {
			b.out.Capacity[ref] = k.capacity
		}
		if k.m.Weight == 0 {
			drainedBy = append(drainedBy, k.weightBy)
		}
	}
	if hp != nil {
		for _, tp := range hp.thirdParty {
			m := tp.Member
			m.Addresses = slices.Clone(m.Addresses)
			if !probe {
				m.ProbeAddress, m.ProbePort = netip.Addr{}, 0
			}
			if seen[m.ID()] {
				b.problem("%s: third-party member %s duplicates a Kubernetes member; dropped", fqdn, m.ID())
				continue
			}
			seen[m.ID()] = true
			svc.Members = append(svc.Members, m)
			if m.Weight == 0 {
				drainedBy = append(drainedBy, weightSource{KindHostPolicy, tp.weightPath})
			}
		}
	}
	if len(svc.Members) == 0 {
		return gslb.Service{}, false
	}
	slices.SortFunc(svc.Members, func(x, y gslb.Member) int { return cmp.Compare(x.ID(), y.ID()) })
	b.judge(&svc, gov, hp)
	if err := gslb.CheckWeights(svc.Members); err != nil {
		b.judgeWeights(svc.Name, err, drainedBy, gov, hp)
	}
	if gov != nil {
		st := b.out.Policies[gov.key()]
		st.Services++
		b.out.Policies[gov.key()] = st
	}
	if hp != nil {
		st := b.out.Policies[hp.key()]
		st.Services = 1
		b.out.Policies[hp.key()] = st
	}
	return svc, true
}

// governing is the GlobalPolicy that governs an FQDN: the first by name
// among its sources' (nil: opted in by annotation only).
func governing(srcs []*source) *compiledGlobal {
	var gov *compiledGlobal
	for _, s := range srcs {
		if s.policy != nil && (gov == nil || s.policy.name < gov.name) {
			gov = s.policy
		}
	}
	return gov
}

// effectivePolicy layers, field by field: the config's defaults, the
// governing GlobalPolicy, the sources' annotations, the HostPolicy.
func (b *builder) effectivePolicy(srcs []*source, gov *compiledGlobal, hp *compiledHost) (gslb.Policy, *gslb.HealthCheck, string) {
	pol := b.in.DefaultPolicy.Clone()
	hc := b.in.DefaultHealthCheck.Clone()
	mode := HostnameVIPsCNAME
	if gov != nil {
		gov.fields.applyPolicy(&pol)
		hc = gov.fields.applyHealthCheck(hc)
		mode = cmp.Or(gov.fields.hostnameVIPs, mode)
	}
	b.annotationOverrides(srcs, &pol)
	if hp != nil {
		hp.fields.applyPolicy(&pol)
		hc = hp.fields.applyHealthCheck(hc)
		mode = cmp.Or(hp.fields.hostnameVIPs, mode)
	}
	return pol, hc, mode
}

// memberAcc gathers one cluster's contribution to one FQDN.
type memberAcc struct {
	cluster int
	ips     []netip.Addr
	hosts   []string
	ready   bool
	// backends are the Services behind the sources (namespace/name,
	// repeats possible); shared with the first source until a second
	// one adds its own.
	backends []string
	port     uint16
	annot    bool // port from the health-port annotation
	weight   *uint32
	prio     *int
}

// accumulate merges the sources of one FQDN per cluster, in cluster
// order: the first source that sets a port, weight or priority wins.
func (b *builder) accumulate(srcs []*source, hc *gslb.HealthCheck) []*memberAcc {
	var accs []*memberAcc
	byCluster := map[int]*memberAcc{}
	for _, s := range srcs {
		a := byCluster[s.cluster]
		if a == nil {
			a = &memberAcc{cluster: s.cluster}
			byCluster[s.cluster] = a
			accs = append(accs, a)
		}
		a.ips = append(a.ips, s.ips...)
		a.hosts = append(a.hosts, s.hostnames...)
		a.ready = a.ready || s.ready
		if a.backends == nil {
			a.backends = s.backends
		} else if len(s.backends) > 0 {
			a.backends = append(slices.Clone(a.backends), s.backends...)
		}
		if a.port == 0 {
			a.port, a.annot = s.port, s.annotPort
			if a.port == 0 {
				a.port = defaultPort(s, hc)
			}
		}
		if a.weight == nil {
			a.weight = b.annotationUint(s, AnnotationWeight, 65535)
		}
		if a.prio == nil {
			if p := b.annotationUint(s, AnnotationPriority, 1000); p != nil {
				a.prio = ptr(int(*p))
			}
		}
	}
	slices.SortFunc(accs, func(x, y *memberAcc) int { return cmp.Compare(x.cluster, y.cluster) })
	return accs
}

// k8sMember is a member built from a cluster's objects, with what the
// build still needs of it.
type k8sMember struct {
	m        gslb.Member
	ready    bool
	capacity uint16 // thousandths; 0: not measured
	port     uint16
	annot    bool
	weightBy weightSource
}

// weightSource is the policy field that set a member's weight: a kind
// (KindHostPolicy, KindGlobalPolicy) and a spec path; zero when the
// default or an annotation did.
type weightSource struct {
	policy string
	path   string
}

// clusterMembers turns each cluster's contribution into members: one for
// all its IP VIPs (or its NAT public addresses), one CNAME member per
// host-name VIP, with the weight and priority of the GlobalPolicy, the
// annotations, then the HostPolicy.
func (b *builder) clusterMembers(fqdn string, accs []*memberAcc, gov *compiledGlobal, hp *compiledHost, mode string, probe bool) []k8sMember {
	var members []k8sMember
	for _, a := range accs {
		cl := &b.in.Clusters[a.cluster]
		weight, prio := uint32(gslb.DefaultWeight), 0
		var weightBy weightSource
		var nat siteOverride
		if gov != nil {
			if o, ok := gov.sites[cl.Name]; ok {
				setWeight(&weight, &weightBy, o, KindGlobalPolicy)
				setIf(&prio, o.priority)
			}
		}
		if a.weight != nil {
			weight, weightBy = *a.weight, weightSource{} // an annotation's
		}
		setIf(&prio, a.prio)
		if hp != nil {
			if o, ok := hp.sites[cl.Name]; ok {
				setWeight(&weight, &weightBy, o, KindHostPolicy)
				setIf(&prio, o.priority)
				nat = o
			}
		}
		ips, hosts := b.vips(a, mode)
		var capacity uint16
		if a.ready {
			capacity = b.indexes[a.cluster].capacity(a.backends)
		}
		member := func(m gslb.Member) k8sMember {
			m.Site, m.Weight, m.Priority = cl.Site, weight, prio
			return k8sMember{m, a.ready, capacity, a.port, a.annot, weightBy}
		}
		if len(nat.public) > 0 {
			// behind NAT: answer the public addresses, probe the status IP
			m := member(gslb.Member{Addresses: slices.Clone(nat.public)})
			if probe && len(ips) > 0 {
				m.m.ProbeAddress = ips[0]
			}
			if len(ips) > 0 || len(hosts) > 0 {
				members = append(members, m)
			}
			continue
		}
		if len(ips) > 0 {
			members = append(members, member(gslb.Member{Addresses: ips}))
		}
		for _, h := range hosts {
			if h == fqdn {
				b.problem("%s: cluster %s: load-balancer host name %s is the service itself; dropped", fqdn, cl.Name, h)
				continue
			}
			members = append(members, member(gslb.Member{Hostname: h}))
		}
	}
	return members
}

// setWeight applies o's weight, if it sets one, recording where it was
// written.
func setWeight(weight *uint32, by *weightSource, o siteOverride, kind string) {
	if o.weight != nil {
		*weight, *by = *o.weight, weightSource{kind, o.weightPath}
	}
}

// vips returns a cluster's addresses and host names, sorted: with
// hostnameVIPs resolve, a host name resolved already counts as its
// addresses.
func (b *builder) vips(a *memberAcc, mode string) ([]netip.Addr, []string) {
	ips := slices.Clone(a.ips)
	var hosts []string
	for _, h := range a.hosts {
		if mode == HostnameVIPsResolve {
			b.resolve[h] = true
			if r := b.in.Resolved[h]; len(r) > 0 {
				for _, ip := range r {
					ips = append(ips, ip.Unmap())
				}
				continue
			}
		}
		hosts = append(hosts, h)
	}
	slices.SortFunc(ips, netip.Addr.Compare)
	slices.Sort(hosts)
	return slices.Compact(ips), slices.Compact(hosts)
}
