package render_test

import (
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/internal/budget"
	"github.com/hagen-ha/hagen/render"
	"github.com/hagen-ha/hagen/schema"
)

// renderedNumber finds the first match of re in a rendered file and
// returns its first group as a number.
func renderedNumber(t *testing.T, tree render.Tree, p, re string) int {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(file(t, tree, p))
	if m == nil {
		t.Fatalf("%s: no match for %q", p, re)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		t.Fatalf("%s: %q: %v", p, m[1], err)
	}
	return n
}

// The budgets in inventory.json follow from the timers of the rendered
// files, read back from those files: keepalived.conf's advert_int,
// priorities and track script, notify.sh's connect timeout and promotion
// wait, haproxy.cfg's check timers, the clients' reconnect delay.
func TestBudgetsFollowTheRenderedTimers(t *testing.T) {
	top, _, err := schema.Load(psExample)
	if err != nil {
		t.Fatal(err)
	}
	tree := renderSpec(t, psExample)
	inv, err := contract.ParseInventory("inventory.json", tree[contract.InventoryFile].Data)
	if err != nil {
		t.Fatal(err)
	}
	if err := inv.Validate(); err != nil {
		t.Fatal(err)
	}
	sec := func(n int) time.Duration { return time.Duration(n) * time.Second }
	kc := "db0/keepalived/keepalived.conf"
	advert := sec(renderedNumber(t, tree, kc, `(?m)^\s+advert_int (\d+)$`))
	// The backup that takes over from db0 is db1, with its own priority.
	backup := renderedNumber(t, tree, "db1/keepalived/keepalived.conf", `(?m)^\s+priority (\d+)$`)
	interval := sec(renderedNumber(t, tree, kc, `vrrp_script hagen_database \{[^}]*interval (\d+)`))
	timeout := sec(renderedNumber(t, tree, kc, `vrrp_script hagen_database \{[^}]*timeout (\d+)`))
	if timeout != 3*interval {
		t.Errorf("the track script's timeout is %s, want 3 × its interval %s (keepalived 2.2.7 overlaps runs otherwise)", timeout, interval)
	}
	fall := renderedNumber(t, tree, kc, `vrrp_script hagen_database \{[^}]*fall (\d+)`)
	ns := "db1/keepalived/notify.sh"
	// A lost peer costs its TCP probe and one bounded psql.
	probe := time.Duration(renderedNumber(t, tree, ns, `(?m)^probe_timeout=0\.(\d)$`)) * 100 * time.Millisecond
	connect := probe + sec(renderedNumber(t, tree, ns, `(?m)^sql_timeout=(\d+)$`))
	promote := sec(renderedNumber(t, tree, ns, `(?m)^promote_wait=(\d+)$`))
	if !regexp.MustCompile(`pg_promote\(wait => true, wait_seconds => \$promote_wait\)`).MatchString(file(t, tree, ns)) {
		t.Errorf("%s: pg_promote does not wait promote_wait", ns)
	}
	if !regexp.MustCompile(`timeout "\$limit" psql`).MatchString(file(t, tree, ns)) {
		t.Errorf("%s: psql is not bounded by timeout", ns)
	}
	hc := "db1/haproxy/haproxy.cfg"
	hConnect := sec(renderedNumber(t, tree, hc, `(?m)^\s+timeout connect (\d+)s$`))
	hCheck := sec(renderedNumber(t, tree, hc, `(?m)^\s+timeout check (\d+)s$`))
	inter := time.Duration(renderedNumber(t, tree, hc, `server db0 \S+ check port \d+ inter (\d+) `)) * time.Millisecond
	hFall := renderedNumber(t, tree, hc, `server db0 .* fall (\d+) `)
	hRise := renderedNumber(t, tree, hc, `server db1 .* rise (\d+) `)

	takeover := budget.VRRPTakeover(advert, backup)
	check := budget.TrackScriptFall(interval, timeout, fall)
	promotion := budget.Promotion(0, 1, connect, promote)
	want := map[[2]string]budget.Budget{
		{"vip", "node-lost"}:                   budget.Sum("", takeover),
		{"vip", "database-check-fails"}:        budget.Sum("", check, takeover),
		{"vip-writes", "primary-lost"}:         budget.Sum("", takeover, promotion),
		{"vip-writes", "database-check-fails"}: budget.Sum("", check, takeover, promotion),
		{"haproxy", "primary-lost"}: budget.Max("",
			budget.Sum("", budget.HAProxyDown(inter, hFall, hConnect, hCheck)),
			budget.Sum("", takeover, promotion, budget.HAProxyUp(inter, hRise, hConnect, hCheck))),
		{"client", "site-lost"}: budget.Sum("", budget.DNSClientFailover(sec(top.Clients.RequestTimeout), sec(top.Clients.ReconnectDelay), 1)),
	}
	if len(inv.Budgets) != len(want) {
		t.Errorf("inventory.json has %d budgets, want %d: %+v", len(inv.Budgets), len(want), inv.Budgets)
	}
	for key, w := range want {
		got := inv.Budget(key[0], key[1])
		if got == nil {
			t.Errorf("no budget for %s after %s", key[0], key[1])
			continue
		}
		if wantMs := int64((w.Total + time.Millisecond - 1) / time.Millisecond); got.Budget != wantMs || got.Formula != w.Formula() {
			t.Errorf("%s after %s = %d ms %q\nwant %d ms %q", key[0], key[1], got.Budget, got.Formula, wantMs, w.Formula())
		}
	}
	if !slices.EqualFunc(inv.Budgets, render.Budgets(top), func(a, b contract.InventoryBudget) bool { return a == b }) {
		t.Errorf("inventory.json's budgets differ from render.Budgets")
	}
}

// A client fails over name by name: the longest run of one site's names,
// read as a circle, sets its budget.
func TestClientBudgetLongestRun(t *testing.T) {
	for _, tt := range []struct {
		sites []string
		want  int64
	}{
		{[]string{"site0", "site1"}, 5000 + 4000},
		{[]string{"site0", "site0", "site1"}, 10000 + 4000},
		// 2, 0 and 1 are site1's in a circle: three waits.
		{[]string{"site1", "site1", "site0", "site1"}, 15000 + 4000},
		{[]string{"site0", "site1", "site0", "site1"}, 5000 + 4000},
	} {
		top, _, err := schema.Load("../examples/dual-site.cue")
		if err != nil {
			t.Fatal(err)
		}
		top.Clients.Servers = nil
		for i, s := range tt.sites {
			top.Clients.Servers = append(top.Clients.Servers, schema.ClientServer{Name: strconv.Itoa(i) + ".ha.test", Site: s})
		}
		var got int64
		for _, b := range render.Budgets(top) {
			if b.Path == contract.BudgetPathClient {
				got = b.Budget
			}
		}
		if got != tt.want {
			t.Errorf("%v: client budget %d ms, want %d", tt.sites, got, tt.want)
		}
	}
}

// Without a VIP nothing promotes a standby: writes through HAProxy in front
// of a primary-standby database have no budget, and neither has the VIP.
func TestBudgetsWithoutVIP(t *testing.T) {
	top, _, err := schema.Load(psExample)
	if err != nil {
		t.Fatal(err)
	}
	top.VIP = nil
	for _, b := range render.Budgets(top) {
		if b.Path != contract.BudgetPathClient {
			t.Errorf("a budget without a VIP: %+v", b)
		}
	}
}
