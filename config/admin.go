package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/meridian-gslb/meridian/gslb"
)

// AdminConfig is the admin key: the bearer token of the admin API and the
// operator overrides kept in the file.
type AdminConfig struct {
	// TokenFile holds the admin API's bearer token (relative to the
	// config file's directory); Token is the same inline. One or neither:
	// without a token the admin API is disabled.
	TokenFile string `mapstructure:"token_file" json:"token_file,omitempty"`
	Token     string `mapstructure:"token" json:"token,omitempty"`
	// Sites maps a site name to a mode: none, up, down or drain.
	Sites map[string]string `mapstructure:"sites" json:"sites,omitempty"`
	// Members are overrides of single members.
	Members []AdminMemberConfig `mapstructure:"members" json:"members,omitempty"`
}

// AdminMemberConfig overrides one member of one service.
type AdminMemberConfig struct {
	Service string `mapstructure:"service" json:"service"`
	Member  string `mapstructure:"member" json:"member"` // its ID, "site/first-address" or "site/hostname"
	Mode    string `mapstructure:"mode" json:"mode"`
}

// adminOverrides converts admin.sites and admin.members, which must name
// configured sites, services and members. st must have its defaults
// applied.
func (c *Config) adminOverrides(st *gslb.State, p *problems) gslb.Admin {
	a := gslb.Admin{Sites: map[string]gslb.AdminMode{}, Members: map[gslb.MemberRef]gslb.AdminMode{}}
	names := make([]string, 0, len(c.Admin.Sites))
	for name := range c.Admin.Sites {
		names = append(names, name)
	}
	slices.Sort(names) // errors in a stable order
	for _, name := range names {
		path := "admin.sites." + name
		site := FindSite(st, name)
		mode, ok := ParseAdminMode(c.Admin.Sites[name])
		switch {
		case site == "":
			p.add(path, "unknown site %q", name)
		case !ok:
			p.add(path, "unknown mode %q (want one of %v)", c.Admin.Sites[name], AdminModes)
		default:
			a.Sites[site] = mode
		}
	}
	var find MemberFinder
	if len(c.Admin.Members) > 0 {
		find = NewMemberFinder(st)
	}
	for i, m := range c.Admin.Members {
		path := fmt.Sprintf("admin.members[%d]", i)
		mode, ok := ParseAdminMode(m.Mode)
		if !ok {
			p.add(path+".mode", "unknown mode %q (want one of %v)", m.Mode, AdminModes)
		}
		ref, err := find.Find(m.Service, m.Member)
		if err != nil {
			p.add(path+"."+err.Field, "%s", err.Msg)
			continue
		}
		if ok {
			a.Members[ref] = mode
		}
	}
	return a
}

// AdminModes are the words of gslb's overrides, for the messages that
// list them.
var AdminModes = []string{gslb.AdminNone.String(), gslb.AdminUp.String(), gslb.AdminDown.String(), gslb.AdminDrain.String()}

// ParseAdminMode reads an override as the file and the admin API write
// it: gslb's words in any case, with spaces around.
func ParseAdminMode(s string) (gslb.AdminMode, bool) {
	return gslb.ParseAdminMode(strings.ToLower(strings.TrimSpace(s)))
}

// FindSite returns the configured name of site, matched exactly or else
// case-insensitively (the file's map keys may have been lower-cased), or
// "".
func FindSite(st *gslb.State, name string) string {
	for _, s := range st.Sites {
		if s.Name == name {
			return s.Name
		}
	}
	for _, s := range st.Sites {
		if strings.EqualFold(s.Name, name) {
			return s.Name
		}
	}
	return ""
}

// RefError names the field of a reference that does not resolve.
type RefError struct{ Field, Msg string }

// FindMember resolves a service name (any case, with or without the final
// dot) and a member ID within it.
func FindMember(st *gslb.State, service, member string) (gslb.MemberRef, *RefError) {
	name := gslb.CanonicalName(service)
	for i := range st.Services {
		if st.Services[i].Name == name {
			return memberOf(&st.Services[i], member)
		}
	}
	return gslb.MemberRef{}, unknownService(service)
}

// MemberFinder is FindMember for many lookups in one State: it indexes
// the services by name once, rather than search all of them per lookup
// (admin overrides against 100,000 services).
type MemberFinder map[string]*gslb.Service

// NewMemberFinder indexes st's services.
func NewMemberFinder(st *gslb.State) MemberFinder {
	f := make(MemberFinder, len(st.Services))
	for i := range st.Services {
		if _, dup := f[st.Services[i].Name]; !dup { // the first, as FindMember
			f[st.Services[i].Name] = &st.Services[i]
		}
	}
	return f
}

// Find is FindMember(st, service, member).
func (f MemberFinder) Find(service, member string) (gslb.MemberRef, *RefError) {
	if svc, ok := f[gslb.CanonicalName(service)]; ok {
		return memberOf(svc, member)
	}
	return gslb.MemberRef{}, unknownService(service)
}

func unknownService(service string) *RefError {
	return &RefError{Field: "service", Msg: fmt.Sprintf("unknown service %q", service)}
}

// memberOf finds a member of svc by its ID, matched exactly or else
// case-insensitively.
func memberOf(svc *gslb.Service, member string) (gslb.MemberRef, *RefError) {
	ids := make([]string, 0, len(svc.Members))
	for j := range svc.Members {
		id := svc.Members[j].ID()
		if id == member || strings.EqualFold(id, strings.TrimSpace(member)) {
			return gslb.MemberRef{Service: svc.Name, Member: id}, nil
		}
		ids = append(ids, id)
	}
	return gslb.MemberRef{}, &RefError{Field: "member", Msg: fmt.Sprintf("service %s has no member %q (its members: %s)", svc.Name, member, strings.Join(ids, ", "))}
}

// adminToken reads the admin API token from admin.token or
// admin.token_file; "" disables the admin API.
func (c *Config) adminToken(p *problems) string {
	a := c.Admin
	var tok, path string
	switch {
	case a.Token != "" && a.TokenFile != "":
		p.add("admin", "give token_file or token, not both")
		return ""
	case a.TokenFile != "":
		path = "admin.token_file"
		b, ok := p.readFile(path, a.TokenFile)
		if !ok {
			return ""
		}
		tok = strings.TrimSpace(string(b))
	case a.Token != "":
		path, tok = "admin.token", strings.TrimSpace(a.Token)
	default:
		return ""
	}
	switch {
	case tok == "":
		p.add(path, "the token is empty")
	case len(tok) < minTokenLength:
		p.add(path, "the token must be at least %d characters, got %d", minTokenLength, len(tok))
	case strings.ContainsAny(tok, " \t\r\n"):
		p.add(path, "the token must be one word (no spaces or line breaks)")
	default:
		return tok
	}
	return ""
}
