package render_test

import (
	"slices"
	"testing"

	"github.com/hagen-ha/hagen/schema"
)

// The spec's access rules are the last records of every pg_hba.conf, in
// the spec's order, one per network, hostssl with security.ssl.
func TestPgHBAAccessRules(t *testing.T) {
	for _, v := range pgVariants() {
		top, tree := pgRender(t, v)
		var want []hbaRecord
		for _, r := range top.Security.Access {
			for _, n := range r.Networks {
				want = append(want, hbaRecord{r.HBAType(top.Security.SSL), r.Database, r.User, n, "scram-sha-256"})
			}
		}
		for _, s := range top.Sites {
			for _, p := range []string{s.Name + "/postgres/pg_hba.conf", s.Name + "/postgres/pg_hba.systemd.conf"} {
				recs := parseHBA(t, p, tree[p].Data)
				if len(recs) < len(want) || !slices.Equal(recs[len(recs)-len(want):], want) {
					t.Errorf("%s: %s does not end with the access rules %+v:\n%s", v.name, p, want, tree[p].Data)
				}
			}
		}
	}
}

func TestAccessRuleType(t *testing.T) {
	for _, c := range []struct {
		typ  string
		ssl  bool
		want string
	}{{"", false, "host"}, {"", true, "hostssl"}, {"hostssl", true, "hostssl"}, {"host", false, "host"}} {
		if got := (schema.AccessRule{Type: c.typ}).HBAType(c.ssl); got != c.want {
			t.Errorf("type %q, ssl %v: %s, want %s", c.typ, c.ssl, got, c.want)
		}
	}
}
