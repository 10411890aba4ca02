package history

import (
	"time"
)

// Histories in these tests are built by hand, times in milliseconds.

func at(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

var (
	vip     = Path{Via: ViaVIP, Target: "10.0.0.100:5444"}
	proxy   = Path{Via: ViaHAProxy, Target: "10.0.0.100:5000"}
	direct0 = Path{Via: ViaDirect, Target: "10.0.0.10:5444", Node: "db0"}
	direct1 = Path{Via: ViaDirect, Target: "10.0.1.10:5444", Node: "db1"}
	app0    = Path{Via: ViaApp, Target: "0.ha.test:8001", Node: "site0"}
	app1    = Path{Via: ViaApp, Target: "1.ha.test:8001", Node: "site1"}
)

// wr is a write of value to key by client over [inv, cmp] ms.
func wr(client string, inv, cmp float64, key, value string, out Outcome, p Path, s *Server) Op {
	return Op{Client: client, Kind: Write, Key: key, Value: value, Invoke: at(inv), Complete: at(cmp), Outcome: out, Path: p, Server: s}
}

// rd is an acknowledged read of key that returned value ("" = absent).
func rd(client string, inv, cmp float64, key, value string, p Path, s *Server) Op {
	return Op{Client: client, Kind: Read, Key: key, Value: value, Absent: value == "", Invoke: at(inv), Complete: at(cmp), Outcome: OK, Path: p, Server: s}
}

func hist(ops ...Op) History {
	h := History{Scenario: "test", Start: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), Ops: ops}
	h.Normalize()
	return h
}

// node is a final state of one node with key=value pairs.
func node(name string, kv ...string) NodeState {
	n := NodeState{Node: name, Rows: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		n.Rows[kv[i]] = kv[i+1]
	}
	return n
}

func finalOf(nodes ...NodeState) FinalState { return FinalState{Nodes: nodes} }

var (
	p0 = Primary("db0", "10.0.0.10", "00000001")
	p1 = Primary("db1", "10.0.1.10", "00000002")
	s1 = Standby("db1", "10.0.1.10")
)

func mustCheck(h History, f FinalState, opt Options) Results {
	r, err := Check(h, f, opt)
	if err != nil {
		panic(err)
	}
	return r
}
