package verify

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hagen-ha/hagen/contract"
)

func TestParseBucardoStatus(t *testing.T) {
	out := `PID of Bucardo MCP: 544
 Name    State    Last good    Time     Last I/D    Last bad    Time
=======+========+============+========+===========+===========+=======
 sync0 | Good   | 20:52:52   | 4m 10s | 0/0       | none      |
 sync1 | Bad    |            |        |           | 20:52:50  | 3s
`
	got := parseBucardoStatus(out)
	want := map[string]syncStatus{
		"sync0": {State: "Good", Age: 4*time.Minute + 10*time.Second},
		"sync1": {State: "Bad"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %+v, want %+v", k, got[k], v)
		}
	}
	if got := parseBucardoStatus("No syncs have been created yet."); len(got) != 0 {
		t.Errorf("no syncs: got %v", got)
	}
}

func TestParseBucardoAge(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"7s": 7 * time.Second, "1h 2m 3s": time.Hour + 2*time.Minute + 3*time.Second,
		"2d 3h": 51 * time.Hour, "": 0, "none": 0,
	} {
		if got := parseBucardoAge(in); got != want {
			t.Errorf("parseBucardoAge(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestPlanLANsAvoidsRenderedAddresses(t *testing.T) {
	inv := contract.Inventory{
		Nameserver: "10.0.200.53",
		Sites: []contract.InventorySite{
			{Name: "a", Address: "10.0.0.1", LAN: "10.0.0.0/24"},
			{Name: "b", Address: "10.0.0.254", LAN: "10.0.0.0/24"},
			{Name: "c", Address: "10.0.1.10", LAN: "10.0.1.0/24"},
		},
		VIP: &contract.InventoryVIP{Address: "10.0.0.2"},
	}
	lans, clients, err := planLANs(inv)
	if err != nil {
		t.Fatal(err)
	}
	if len(lans) != 3 {
		t.Fatalf("want 3 networks (two LANs, clients), got %d", len(lans))
	}
	if clients.Prefix != netip.MustParsePrefix("10.0.200.0/24") {
		t.Errorf("clients network %s", clients.Prefix)
	}
	used := []string{"10.0.0.1", "10.0.0.254", "10.0.0.2", "10.0.1.10", "10.0.200.53"}
	for _, l := range lans {
		for _, a := range []netip.Addr{l.Gateway, l.Router} {
			if !l.Prefix.Contains(a) || slices.Contains(used, a.String()) {
				t.Errorf("network %s: address %s collides or is outside", l.Prefix, a)
			}
		}
		if l.Gateway == l.Router {
			t.Errorf("network %s: gateway = router", l.Prefix)
		}
	}
	if lans[0].Gateway.String() != "10.0.0.3" || lans[0].Router.String() != "10.0.0.253" {
		t.Errorf("LAN a: gateway %s router %s, want 10.0.0.3 and 10.0.0.253", lans[0].Gateway, lans[0].Router)
	}
}

func TestSecretNames(t *testing.T) {
	f := filepath.Join(t.TempDir(), "hagen.env.template")
	os.WriteFile(f, []byte("# comment\n# used as X\nPOSTGRES_PASSWORD=\n\nVRRP_AUTH_PASS=\n"), 0o644)
	names, err := secretNames(f)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"POSTGRES_PASSWORD", "VRRP_AUTH_PASS"}) {
		t.Errorf("names %v", names)
	}
	s := secrets{}
	if err := s.fill(names); err != nil {
		t.Fatal(err)
	}
	if len(s["POSTGRES_PASSWORD"]) < 24 || s["POSTGRES_PASSWORD"] == s["VRRP_AUTH_PASS"] {
		t.Errorf("secrets not fresh random values")
	}
}
