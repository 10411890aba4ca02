package schema

import (
	"slices"
	"testing"
)

func TestPatroniSlot(t *testing.T) {
	for in, want := range map[string]string{"db1": "db1", "db-1": "db_1", "site-a-2": "site_a_2"} {
		if got := PatroniSlot(in); got != want {
			t.Errorf("PatroniSlot(%q) = %q, want %q", in, got, want)
		}
	}
}

// A witness site carries no service and no HAProxy by default; lists the
// spec writes stay as written (the rules refuse a witness in them).
func TestWitnessDefaults(t *testing.T) {
	top := &Topology{
		Sites: []Site{{Name: "db0"}, {Name: "db1"}, {Name: "w", Witness: true}},
		Services: map[string]Service{
			"app":  {},
			"only": {Sites: []string{"db1"}},
		},
		Proxy: &Proxy{},
	}
	top.witnessDefaults()
	if got := top.Services["app"].Sites; !slices.Equal(got, []string{"db0", "db1"}) {
		t.Errorf("app runs on %v, want the database sites", got)
	}
	if got := top.Services["only"].Sites; !slices.Equal(got, []string{"db1"}) {
		t.Errorf("a written list changed to %v", got)
	}
	if got := top.Proxy.Sites; !slices.Equal(got, []string{"db0", "db1"}) {
		t.Errorf("HAProxy runs on %v, want the database sites", got)
	}
	plain := &Topology{Sites: []Site{{Name: "a"}, {Name: "b"}}, Services: map[string]Service{"app": {}}}
	plain.witnessDefaults()
	if plain.Services["app"].Sites != nil {
		t.Errorf("without a witness the default stays every site, got %v", plain.Services["app"].Sites)
	}
}
