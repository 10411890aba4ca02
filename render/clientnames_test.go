package render_test

import (
	"strings"
	"testing"

	"github.com/hagen-ha/hagen/schema"
)

// Explicit client names: a name inside the domain is a zone record (the
// domain itself as @), one outside it only a hosts line; the clients get
// the list, and the RUNBOOK says where the outside names' records go.
func TestExplicitClientNames(t *testing.T) {
	top := loadTopology(t, "../examples/dual-site.cue")
	top.Clients.Servers = []schema.ClientServer{
		{Name: "0.ha.test", Site: "site0"},
		{Name: "kwanza-b.ha.test", Site: "site1"},
		{Name: "ha.test", Site: "site0"},
		{Name: "kwanza.example.org", Site: "site1"},
	}
	tree := mustRender(t, top)
	zone := file(t, tree, "clients/ha.test.zone")
	mustContain(t, "clients/ha.test.zone", zone,
		"\n0\tIN\tA\t10.231.0.10\t; site site0\n",
		"\nkwanza-b\tIN\tA\t10.231.1.10\t; site site1\n",
		"\n@\tIN\tA\t10.231.0.10\t; site site0\n")
	if strings.Contains(zone, "example.org") {
		t.Errorf("the zone of ha.test holds a name outside it:\n%s", zone)
	}
	mustContain(t, "clients/hosts", file(t, tree, "clients/hosts"),
		"10.231.1.10\tkwanza.example.org\t# site site1\n", "10.231.1.10\tkwanza-b.ha.test\t# site site1\n")
	mustContain(t, "clients/client.json", file(t, tree, "clients/client.json"),
		`"kwanza-b.ha.test",`, `"kwanza.example.org"`)
	rb := file(t, tree, "RUNBOOK.md")
	mustContain(t, "RUNBOOK.md", rb,
		"- Servers: the **4** names below, in this order",
		"The names outside ha.test\n(`kwanza.example.org`) are not in that zone",
		"dig +short kwanza.example.org    # 10.231.1.10\n",
		"dig +short @10.231.200.53 kwanza-b.ha.test    # 10.231.1.10\n")
	if strings.Contains(rb, "Number of load-balancing servers") {
		t.Error("the RUNBOOK gives a number of servers for a list of names")
	}
}
