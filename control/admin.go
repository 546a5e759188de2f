package control

import (
	"fmt"
	"maps"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/gslb"
)

// AdminOverrides are the overrides in force, by origin.
type AdminOverrides struct {
	File      gslb.Admin // admin.sites, admin.members
	API       gslb.Admin // set through the admin API
	Effective gslb.Admin // both, the API's winning
}

// Admin returns the overrides in force.
func (p *Publisher) Admin() AdminOverrides {
	p.mu.Lock()
	defer p.mu.Unlock()
	file := p.current.Load().cfg.Admin
	return AdminOverrides{File: file, API: cloneAdmin(p.apiAdmin), Effective: mergeAdmin(file, p.apiAdmin)}
}

// UpdateAdmin changes the API's overrides with change, which may refuse
// (unknown site or member) by returning an error, and publishes the
// result at once: the next query sees it.
func (p *Publisher) UpdateAdmin(change func(st *gslb.State, api *gslb.Admin) error) (AdminOverrides, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.current.Load()
	next := cloneAdmin(p.apiAdmin)
	if err := change(cur.state, &next); err != nil {
		return AdminOverrides{}, err
	}
	eff := mergeAdmin(cur.cfg.Admin, next)
	if err := p.store.Update(func(cur *gslb.Snapshot) (*gslb.Snapshot, error) {
		if cur == nil {
			return nil, fmt.Errorf("no snapshot published yet")
		}
		return cur.WithAdmin(eff), nil
	}); err != nil {
		return AdminOverrides{}, err
	}
	p.apiAdmin = next
	p.changes.Inc()
	return AdminOverrides{File: cur.cfg.Admin, API: cloneAdmin(next), Effective: eff}, nil
}

// pruneAPIAdmin drops the API overrides of sites and members st no longer
// has: a member removed and added again later starts clean.
func (p *Publisher) pruneAPIAdmin(st *gslb.State) {
	for site, mode := range p.apiAdmin.Sites {
		if config.FindSite(st, site) != site {
			delete(p.apiAdmin.Sites, site)
			p.log.Warn("admin override dropped: the site is no longer configured", "site", site, "mode", mode.String())
		}
	}
	if len(p.apiAdmin.Members) == 0 {
		return
	}
	// One index per publish, not a search of every service per override.
	find := config.NewMemberFinder(st)
	for ref, mode := range p.apiAdmin.Members {
		if r, err := find.Find(ref.Service, ref.Member); err != nil || r != ref {
			delete(p.apiAdmin.Members, ref)
			p.log.Warn("admin override dropped: the member is no longer configured", "service", ref.Service, "member", ref.Member, "mode", mode.String())
		}
	}
}

func newAdmin() gslb.Admin {
	return gslb.Admin{Sites: map[string]gslb.AdminMode{}, Members: map[gslb.MemberRef]gslb.AdminMode{}}
}

func cloneAdmin(a gslb.Admin) gslb.Admin {
	out := newAdmin()
	maps.Copy(out.Sites, a.Sites)
	maps.Copy(out.Members, a.Members)
	return out
}

// mergeAdmin lays the API's overrides over the file's. An API override
// of "none" stays in the result: it means "follow health" and so undoes
// the file's override of the same site or member.
func mergeAdmin(file, api gslb.Admin) gslb.Admin {
	out := cloneAdmin(file)
	maps.Copy(out.Sites, api.Sites)
	maps.Copy(out.Members, api.Members)
	return out
}
