package httpapi

import (
	"slices"

	"github.com/meridian-gslb/meridian/control"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/health"
)

// healthQuery is one /api/v1/health request: its page and filters, and
// the snapshot, plan and indexes they apply to. The filters keep
//
//   - services: those named (service, prefix), with a member at site, with
//     a member whose health is state;
//   - targets: those that a member of a kept service at site uses, whose
//     local probe is in state.
type healthQuery struct {
	listQuery
	pub      *control.Publisher
	snap     *gslb.Snapshot
	plan     *health.Plan
	view     *health.View
	services *serviceIndex
	targets  *targetIndex
}

// servicePage appends the page of services to resp. It returns the name
// to continue after, "" when the list is over.
func (hq *healthQuery) servicePage(resp *healthResponse) string {
	sx := hq.services
	start := 0
	if hq.cursor.Service != "" {
		start = sx.after(hq.cursor.Service)
	}
	sel := sx.selection(&hq.listQuery)
	candidates := sel.from
	if hq.state != "" {
		candidates = hq.stateCandidates
	}
	last := ""
	candidates(start, func(r int) bool {
		if hq.state != "" && !sel.contains(r) {
			return true
		}
		svc := sx.service(r)
		mhs := hq.snap.MemberHealth(svc.Name)
		if hq.state != "" && !slices.ContainsFunc(mhs, func(m gslb.MemberHealth) bool { return health.VerdictWord(m.Up, m.Known) == hq.state }) {
			return true
		}
		if len(resp.Services) == hq.limit {
			last = resp.Services[len(resp.Services)-1].Name
			return false
		}
		resp.Services = append(resp.Services, hq.serviceHealth(svc, mhs))
		return true
	})
	return last
}

func (hq *healthQuery) serviceHealth(svc *gslb.Service, mhs []gslb.MemberHealth) serviceHealth {
	sh := serviceHealth{Name: svc.Name, Check: checkOf(svc), Members: make([]memberHealth, 0, len(mhs))}
	for j, mh := range mhs {
		info := memberHealth{
			Member: mh.Member, Site: mh.Site, Health: health.VerdictWord(mh.Up, mh.Known),
			Admin: mh.Admin.String(), Eligible: mh.Eligible, Detail: hq.view.MemberDetail(svc.Name, &svc.Members[j]), Targets: []string{},
		}
		for _, k := range hq.plan.MemberKeys(svc.Name, mh.Member) {
			info.Targets = append(info.Targets, k.String())
		}
		sh.Members = append(sh.Members, info)
	}
	return sh
}

// targetFilter is the targets the filters keep: those of sel, and when
// scan is set only those that pass the prefix and state checks, which
// look at each target in turn.
type targetFilter struct {
	sel  selection
	scan bool
}

func (hq *healthQuery) targetFilter() targetFilter {
	tx := hq.targets
	tf := targetFilter{sel: selection{hi: len(tx.keys)}, scan: hq.prefix != "" || hq.state != ""}
	switch {
	case hq.service != "":
		// The targets of that service's members (at site): a handful.
		svc := hq.snap.Service(hq.service)
		tf.sel.list = []int32{}
		for j := range svc.Members {
			m := &svc.Members[j]
			if hq.site != "" && m.Site != hq.site {
				continue
			}
			for _, k := range hq.plan.MemberKeysOf(svc.Name, m) {
				if r, ok := tx.rank[k]; ok {
					tf.sel.list = append(tf.sel.list, r)
				}
			}
		}
		slices.Sort(tf.sel.list)
		tf.sel.list = slices.Compact(tf.sel.list)
	case hq.site != "":
		tf.sel.list = tx.bySite[hq.site]
		if tf.sel.list == nil {
			tf.sel.list = []int32{}
		}
	}
	return tf
}

// targetPage appends the page of the targets tf keeps to resp. It returns
// the key to continue after, "" when the list is over.
func (hq *healthQuery) targetPage(resp *healthResponse, tf targetFilter) string {
	tx := hq.targets
	start := 0
	if hq.cursor.Target != "" {
		start = tx.after(hq.cursor.targetKey)
	}
	var inPrefix selection
	if hq.prefix != "" {
		inPrefix = hq.services.selection(&listQuery{prefix: hq.prefix})
	}
	last := ""
	tf.sel.from(start, func(r int) bool {
		if hq.prefix != "" && !tx.usedWithin(r, inPrefix.lo, inPrefix.hi, hq.site) {
			return true
		}
		st, ok := hq.pub.TargetStatus(tx.keys[r])
		if !ok || hq.state != "" && st.State.String() != hq.state {
			return true // not probed (a plan being replaced), or filtered out
		}
		if len(resp.Targets) == hq.limit {
			last = resp.Targets[len(resp.Targets)-1].Key.String()
			return false
		}
		resp.Targets = append(resp.Targets, hq.targetHealth(r, st))
		return true
	})
	return last
}

// targetHealth is target r with its verdict, sources and first users.
func (hq *healthQuery) targetHealth(r int, st health.TargetStatus) targetHealth {
	tx, obs := hq.targets, hq.pub.Observations()
	up, known := obs.Verdict(st.Key)
	th := targetHealth{
		TargetStatus: st, Verdict: health.VerdictWord(up, known), Sources: obs.Sources(st.Key),
		Services: []string{}, Members: []gslb.MemberRef{},
		ServicesTotal: int(tx.serviceCount[r]), MembersTotal: len(tx.users[r]),
	}
	if th.Sources == nil {
		th.Sources = []health.Observation{}
	}
	for _, u := range tx.users[r] {
		svc := hq.services.service(int(u.service))
		n := len(th.Services)
		if n == 0 || th.Services[n-1] != svc.Name {
			if n == maxTargetUsers {
				break // and the members are full: a service has one at least
			}
			th.Services = append(th.Services, svc.Name)
		}
		if len(th.Members) < maxTargetUsers {
			th.Members = append(th.Members, gslb.MemberRef{Service: svc.Name, Member: svc.Members[u.member].ID()})
		}
	}
	return th
}
