package verify

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/verify/history"
)

// fakeSuite records what the runner asked of it.
type fakeSuite struct {
	prepared   []need
	prepareErr error
}

func (f *fakeSuite) scenarios() []scenario { return nil }
func (f *fakeSuite) deployment() *cluster  { return nil }
func (f *fakeSuite) prepare(_ context.Context, n need, notes *[]string) error {
	f.prepared = append(f.prepared, n)
	*notes = append(*notes, "prepared "+n.String())
	return f.prepareErr
}
func (f *fakeSuite) logs(context.Context) []string {
	return []string{"db0/postgres: the end of its log"}
}

func TestRunScenarioGetsItsState(t *testing.T) {
	su := &fakeSuite{}
	ran := false
	res := runScenario(context.Background(), su, scenario{name: "rejoin", needs: needPrimaryKilled, run: func(context.Context, *Metrics, *[]string) error {
		ran = true
		return nil
	}}, &contract.Inventory{})
	if !ran || res.Status != Passed {
		t.Fatalf("ran %v, status %s (%s)", ran, res.Status, res.Failure)
	}
	if !slices.Equal(su.prepared, []need{needPrimaryKilled}) {
		t.Errorf("prepared %v, expected the scenario's need only", su.prepared)
	}
}

func TestRunScenarioFailureCarriesLogs(t *testing.T) {
	su := &fakeSuite{}
	res := runScenario(context.Background(), su, scenario{name: "x", run: func(context.Context, *Metrics, *[]string) error {
		return errors.New("two writable primaries")
	}}, &contract.Inventory{})
	if res.Status != Failed || res.Failure != "two writable primaries" {
		t.Fatalf("status %s, failure %q", res.Status, res.Failure)
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "db0/postgres: the end of its log") }) {
		t.Errorf("the failure's notes lack the container logs: %q", res.Notes)
	}
}

func TestRunScenarioSetupFailureIsNotTheScenarios(t *testing.T) {
	su := &fakeSuite{prepareErr: errors.New("bring-up: db1/postgres exited 1")}
	ran := false
	res := runScenario(context.Background(), su, scenario{name: "x", run: func(context.Context, *Metrics, *[]string) error {
		ran = true
		return nil
	}}, &contract.Inventory{})
	if ran {
		t.Error("the scenario ran without its state")
	}
	if res.Status != Failed || !errors.Is(errors.New(res.Failure), errSetup) && !strings.HasPrefix(res.Failure, "setup: ") || !strings.Contains(res.Failure, "db1/postgres exited 1") {
		t.Errorf("status %s, failure %q: expected a failed setup naming the container", res.Status, res.Failure)
	}
}

func TestRunScenarioNotApplicable(t *testing.T) {
	su := &fakeSuite{}
	ran := 0
	sc := scenario{name: "proxy-switch", applies: needsDBProxy, run: func(context.Context, *Metrics, *[]string) error {
		ran++
		return nil
	}}
	res := runScenario(context.Background(), su, sc, &contract.Inventory{Proxy: &contract.InventoryProxy{Fronts: "app"}})
	if res.Status != Skipped || !strings.HasPrefix(res.Failure, "not applicable: ") || len(su.prepared) != 0 || ran != 0 {
		t.Errorf("status %s, failure %q, prepared %v, ran %d", res.Status, res.Failure, su.prepared, ran)
	}
	res = runScenario(context.Background(), su, sc, &contract.Inventory{Proxy: &contract.InventoryProxy{Fronts: "database"}})
	if res.Status != Passed || ran != 1 {
		t.Errorf("with HAProxy in front of the database: status %s (%s), ran %d", res.Status, res.Failure, ran)
	}
}

// Every scenario of every mode runs alone: its name selects it and
// nothing else, and a state other than the steady one is one its suite
// can make by itself.
func TestScenariosRunAlone(t *testing.T) {
	makes := map[string][]need{
		"primary-standby":    {needSteady, needPrimaryKilled},
		"multi-master-async": {needSteady, needSiteKilled, needOutageSeen},
		MatrixPatroni:        {needSteady, needPrimaryKilled},
	}
	for mode, ok := range makes {
		names := ScenarioNames(mode)
		if len(names) == 0 {
			t.Fatalf("mode %s has no scenarios", mode)
		}
		su := suiteFor(mode, &harness{})
		for _, sc := range su.scenarios() {
			got, err := selectScenarios(su, mode, sc.name)
			if err != nil || len(got) != 1 || got[0].name != sc.name {
				t.Errorf("%s: --scenario %s selects %d scenarios (%v)", mode, sc.name, len(got), err)
			}
			if !slices.Contains(ok, sc.needs) {
				t.Errorf("%s: scenario %s needs %s, which its suite does not make", mode, sc.name, sc.needs)
			}
		}
		if _, err := selectScenarios(su, mode, "no-such"); err == nil || !strings.Contains(err.Error(), names[0]) {
			t.Errorf("%s: an unknown scenario: %v", mode, err)
		}
	}
}

// The bridge gateway and the WAN router never take a spec's address: a
// witness at the LAN's .1 keeps it.
func TestPlanLANsLeavesTheWitness(t *testing.T) {
	inv := contract.Inventory{
		Nameserver: "10.232.0.53",
		Sites: []contract.InventorySite{
			{Name: "db0", Address: "10.232.0.11", LAN: "10.232.0.0/24"},
			{Name: "db1", Address: "10.232.0.12", LAN: "10.232.0.0/24"},
		},
		Database: contract.InventoryDB{Witness: "10.232.0.1", Witnesses: []string{"10.232.0.1", "10.232.0.254"}},
		VIP:      &contract.InventoryVIP{Address: "10.232.0.100"},
	}
	lans, _, err := planLANs(inv)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lans {
		for _, a := range []string{l.Gateway.String(), l.Router.String()} {
			if a == "10.232.0.1" || a == "10.232.0.254" {
				t.Errorf("network %s: gateway %s, router %s: one is a witness", l.Prefix, l.Gateway, l.Router)
			}
		}
	}
}

// An IPv6 LAN gets a gateway and a router inside its prefix that no
// spec address takes, the last address of the prefix excluded.
func TestPlanLANsIPv6(t *testing.T) {
	inv := contract.Inventory{
		Nameserver: "2001:db8:232::53",
		Sites: []contract.InventorySite{
			{Name: "db0", Address: "2001:db8:232::11", LAN: "2001:db8:232::/64"},
			{Name: "db1", Address: "2001:db8:232::12", LAN: "2001:db8:232::/64"},
		},
		Database: contract.InventoryDB{Witness: "2001:db8:232::1"},
		VIP:      &contract.InventoryVIP{Address: "2001:db8:232::100"},
	}
	lans, clients, err := planLANs(inv)
	if err != nil {
		t.Fatal(err)
	}
	if len(lans) != 1 || clients != lans[0] {
		t.Fatalf("lans %v, clients %v: expected the one site LAN, holding the name server", lans, clients)
	}
	l := lans[0]
	if l.Gateway.String() != "2001:db8:232::2" || l.Router.String() != "2001:db8:232:0:ffff:ffff:ffff:fffe" {
		t.Errorf("gateway %s, router %s", l.Gateway, l.Router)
	}
	if got := lastAddr(netip.MustParsePrefix("10.232.0.0/24")).String(); got != "10.232.0.255" {
		t.Errorf("lastAddr of an IPv4 /24: %s", got)
	}
}

// Where nothing promotes a standby (keepalived on the proxy hosts only),
// the scenarios that expect an automatic failover do not apply and the
// proxy-host scenarios do; on a spec with keepalived on the database
// nodes it is the other way round.
func TestProxyHostApplicability(t *testing.T) {
	proxyHosts := &contract.Inventory{Sites: []contract.InventorySite{
		{Name: "db0", Role: "primary", Services: []string{"postgres", "hagen-agent"}},
		{Name: "db1", Role: "standby", Services: []string{"postgres", "hagen-agent"}},
		{Name: "proxy0", Role: contract.RoleProxy, Services: []string{"keepalived", "haproxy"}},
	}}
	vipOnDB := &contract.Inventory{Sites: []contract.InventorySite{
		{Name: "db0", Role: "primary", Services: []string{"postgres", "hagen-agent", "keepalived", "haproxy"}},
		{Name: "db1", Role: "standby", Services: []string{"postgres", "hagen-agent", "keepalived", "haproxy"}},
	}}
	for _, tc := range []struct {
		inv  *contract.Inventory
		f    func(*contract.Inventory) string
		want bool // applies
	}{
		{proxyHosts, needsAutomaticFailover, false},
		{proxyHosts, needsProxyHosts, true},
		{proxyHosts, needsVIPOnProxyHosts, true},
		{vipOnDB, needsAutomaticFailover, true},
		{vipOnDB, needsProxyHosts, false},
		{vipOnDB, needsVIPOnProxyHosts, false},
	} {
		if got := tc.f(tc.inv) == ""; got != tc.want {
			t.Errorf("%s: applies %v, expected %v (%q)", tc.inv.Sites[len(tc.inv.Sites)-1].Name, got, tc.want, tc.f(tc.inv))
		}
	}
}

// An intermittent known limit explains a failure of its own evidence
// checks only: another check's violation, an RTO over budget or a failure
// of the scenario itself is still a failure.
func TestLimitExplains(t *testing.T) {
	failing := func(mut func(*Scenario)) Scenario {
		s := Scenario{
			Status: Failed, KnownLimit: "stale after demotion", LimitChecks: []string{"stale", "linearizable"},
			Failure: evidenceFailure + "stale: 1 of 243 reads [violation]",
			Checks:  &history.Results{},
		}
		s.Checks.Stale.Is = history.Violation
		s.Checks.Linearizability = &history.Linearizability{}
		s.Checks.Linearizability.Is = history.Violation
		if mut != nil {
			mut(&s)
		}
		return s
	}
	if err := failing(nil).LimitExplains(); err != nil {
		t.Errorf("stale and linearizable violations: %v, want explained", err)
	}
	for name, mut := range map[string]func(*Scenario){
		"lost":        func(s *Scenario) { s.Checks.Lost.Is = history.Violation },
		"split-brain": func(s *Scenario) { s.Checks.SplitBrain.Is = history.Violation },
		"rto": func(s *Scenario) {
			s.RTO = []RTOCheck{{Path: "vip", Fault: "partition", MeasuredMillis: 9000, BudgetMillis: 8000}}
		},
		"own failure":  func(s *Scenario) { s.Failure = "two writable primaries\n" + s.Failure },
		"no limit":     func(s *Scenario) { s.LimitChecks = nil },
		"passed":       func(s *Scenario) { s.Status = Passed },
		"no checks":    func(s *Scenario) { s.Checks = nil },
		"inconclusive": func(s *Scenario) { s.Checks.Divergence.Is = history.Inconclusive },
	} {
		if err := failing(mut).LimitExplains(); err == nil {
			t.Errorf("%s: explained by the limit, want not", name)
		}
	}
}
