package schema

// Site returns the site named name, or nil.
func (t *Topology) Site(name string) *Site {
	for i := range t.Sites {
		if t.Sites[i].Name == name {
			return &t.Sites[i]
		}
	}
	return nil
}

// ServiceRunsOn reports whether the service runs on the named site: one
// its sites list names, or, without a list, every site with a database.
func (t *Topology) ServiceRunsOn(s Service, site string) bool {
	if len(s.Sites) == 0 {
		return t.HasDatabase(site)
	}
	return listedOrAll(s.Sites, site)
}

// HasDatabase reports whether the named site runs a database: every site
// but one that carries only HAProxy (proxyOnly) or only an etcd member
// (witness).
func (t *Topology) HasDatabase(site string) bool {
	s := t.Site(site)
	return s != nil && !s.ProxyOnly && !s.Witness
}

// DatabaseSites are the sites that run a database, in spec order.
func (t *Topology) DatabaseSites() []Site {
	var out []Site
	for _, s := range t.Sites {
		if t.HasDatabase(s.Name) {
			out = append(out, s)
		}
	}
	return out
}

// VIPOnProxies reports whether the virtual IP is carried by proxy-only
// sites only (it moves between HAProxy hosts, not database nodes).
func (t *Topology) VIPOnProxies() bool {
	if t.VIP == nil || len(t.VIP.Priorities) == 0 {
		return false
	}
	for name := range t.VIP.Priorities {
		if s := t.Site(name); s == nil || !s.ProxyOnly {
			return false
		}
	}
	return true
}

// RunsOn reports whether an HAProxy runs on the named site.
func (p *Proxy) RunsOn(site string) bool { return listedOrAll(p.Sites, site) }

func listedOrAll(list []string, name string) bool {
	if len(list) == 0 {
		return true
	}
	for _, s := range list {
		if s == name {
			return true
		}
	}
	return false
}

// CarriesVIP reports whether the named site takes part in the virtual IP.
func (t *Topology) CarriesVIP(site string) bool {
	if t.VIP == nil {
		return false
	}
	_, ok := t.VIP.Priorities[site]
	return ok
}

// Role is a site's database role in primary-standby mode: "primary",
// "standby" or "" in other modes.
func (t *Topology) Role(site string) string {
	s := t.Database.Streaming
	if s == nil {
		return ""
	}
	if s.Primary == site {
		return "primary"
	}
	for _, sb := range s.Standbys {
		if sb.Site == site {
			return "standby"
		}
	}
	return ""
}

// Standby returns the standby entry of the named site, or nil.
func (s *Streaming) Standby(site string) *Standby {
	for i := range s.Standbys {
		if s.Standbys[i].Site == site {
			return &s.Standbys[i]
		}
	}
	return nil
}

// WitnessList is every witness address: witness, or the witnesses list.
func (s *Streaming) WitnessList() []string {
	if s.Witness != "" {
		return append([]string{s.Witness}, s.Witnesses...)
	}
	return s.Witnesses
}

// WitnessMajority is how many witnesses a node must reach not to be
// isolated: more than half of them.
func (s *Streaming) WitnessMajority() int { return len(s.WitnessList())/2 + 1 }
