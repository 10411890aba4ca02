package verify

import (
	"testing"
	"time"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/internal/probe"
	"github.com/hagen-ha/hagen/verify/history"
)

// A probe client's writes join the scenario's history on its clock:
// acknowledged ones served by the app's site, a connection that never
// opened failed, any other error unknown (the app may have committed).
func TestRecordProbe(t *testing.T) {
	c := &cluster{}
	c.beginEvidence("kill")
	defer c.endEvidence(t.Context(), &Scenario{Status: Skipped})
	start := c.hist().Start()
	at := func(ms int) int64 { return start.Add(time.Duration(ms) * time.Millisecond).UnixNano() }
	evs := []probe.Event{
		{T: at(100), Op: probe.OpConnect, Server: "0.ha.test:8001", Site: "site0", OK: true},
		{T: at(120), Op: probe.OpWrite, ID: "ha-1", Server: "0.ha.test:8001", Site: "site0", OK: true, LatencyNs: int64(20 * time.Millisecond)},
		{T: at(3200), Op: probe.OpWrite, ID: "ha-2", Server: "0.ha.test:8001", Err: "Post \"http://0.ha.test:8001/write\": context deadline exceeded", LatencyNs: int64(3 * time.Second)},
		{T: at(3300), Op: probe.OpWrite, ID: "ha-3", Server: "0.ha.test:8001", Err: "Post \"http://0.ha.test:8001/write\": dial tcp 10.0.0.10:8001: connect: connection refused", LatencyNs: int64(time.Millisecond)},
	}
	c.recordProbe(clientRun{ID: "ha"}, evs)
	h := c.hist().History()
	if len(h.Ops) != 3 {
		t.Fatalf("%d operations, want the 3 writes: %+v", len(h.Ops), h.Ops)
	}
	want := []struct {
		key     string
		outcome history.Outcome
		invoke  time.Duration
		server  string
	}{
		{"ha-1", history.OK, 100 * time.Millisecond, "site0"},
		{"ha-2", history.Unknown, 200 * time.Millisecond, ""},
		{"ha-3", history.Failed, 3299 * time.Millisecond, ""},
	}
	for i, w := range want {
		o := h.Ops[i]
		if o.Key != w.key || o.Outcome != w.outcome || o.Invoke != w.invoke || o.Server.Identity() != w.server || o.Path.Via != history.ViaDNS {
			t.Errorf("op %d: %s %s invoked %s server %q via %s; want %s %s %s %q via dns", i, o.Key, o.Outcome, o.Invoke, o.Server.Identity(), o.Path.Via, w.key, w.outcome, w.invoke, w.server)
		}
	}
}

// pathOf names the route by what the client dials.
func TestPathOf(t *testing.T) {
	c := &cluster{inv: contract.Inventory{VIP: &contract.InventoryVIP{Address: "10.0.0.100"}, Proxy: &contract.InventoryProxy{Port: 5000}}}
	c.sites = []*site{{Inv: contract.InventorySite{Name: "db1", Address: "10.0.0.11"}}}
	for _, tc := range []struct {
		addr string
		port int
		want history.Path
	}{
		{"10.0.0.100", 5444, history.Path{Via: history.ViaVIP, Target: "10.0.0.100:5444"}},
		{"10.0.0.100", 5000, history.Path{Via: history.ViaHAProxy, Target: "10.0.0.100:5000"}},
		{"10.0.0.11", 5000, history.Path{Via: history.ViaHAProxy, Target: "10.0.0.11:5000"}},
		{"10.0.0.11", 5444, history.Path{Via: history.ViaDirect, Target: "10.0.0.11:5444", Node: "db1"}},
	} {
		if got := c.pathOf(tc.addr, tc.port); got != tc.want {
			t.Errorf("pathOf(%s, %d) = %+v, want %+v", tc.addr, tc.port, got, tc.want)
		}
	}
}
