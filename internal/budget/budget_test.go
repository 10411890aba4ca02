package budget

import (
	"testing"
	"time"
)

const (
	ms = time.Millisecond
	s  = time.Second
)

func TestTerms(t *testing.T) {
	tests := []struct {
		name    string
		term    Term
		value   time.Duration
		formula string
	}{
		// The field notes measured a backup of priority 100 take over after
		// 3.4–3.5 s with advert_int 1: the formula gives 3.609375 s.
		{"vrrp priority 100", VRRPTakeover(s, 100), 3609375 * time.Microsecond, "3 × 1s + (256 − 100)/256 × 1s"},
		// VRRP version 2: the skew is (256 − priority)/256 s, not scaled by
		// the interval (keepalived's VRRP_TIMER_SKEW).
		{"vrrp priority 254 advert 2", VRRPTakeover(2*s, 254), 6*s + 7812500*time.Nanosecond, "3 × 2s + (256 − 254)/256 × 1s"},
		{"vrrp priority 100 advert 3", VRRPTakeover(3*s, 100), 9*s + 609375*time.Microsecond, "3 × 3s + (256 − 100)/256 × 1s"},
		{"track script", TrackScriptFall(s, s, 2), 4 * s, "2 × (1s + 1s)"},
		// A check connects within min(timeout connect, inter), then has
		// timeout check to answer.
		{"haproxy", HAProxyDown(1000*ms, 3, 5*s, 2*s), 12 * s, "3 × (1s + min(5s, 1s) + 2s)"},
		{"haproxy fast", HAProxyDown(250*ms, 2, 5*s, 500*ms), 2 * s, "2 × (0.25s + min(5s, 0.25s) + 0.5s)"},
		{"haproxy slow inter", HAProxyDown(10*s, 2, 5*s, 2*s), 34 * s, "2 × (10s + min(5s, 10s) + 2s)"},
		{"haproxy up", HAProxyUp(2*s, 2, 5*s, 2*s), 12 * s, "2 × (2s + min(5s, 2s) + 2s)"},
		{"promotion sync", Promotion(0, 1, 3*s, 30*s), 33 * s, "0s + 1 × 3s + 30s"},
		{"promotion async", Promotion(3*s, 2, 3*s, 5*s), 14 * s, "3s + 2 × 3s + 5s"},
		{"patroni", Patroni(10*s, 2*s), 12 * s, "10s + 2s"},
		{"client", ClientReconnect(5 * s), 5 * s, "5s"},
		{"dns client", DNSClientFailover(2*s, 5*s, 3), 19 * s, "2s + 5s × 3 + 2s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.term.Value != tt.value {
				t.Errorf("value = %v, want %v", tt.term.Value, tt.value)
			}
			if tt.term.Formula != tt.formula {
				t.Errorf("formula = %q, want %q", tt.term.Formula, tt.formula)
			}
		})
	}
}

func TestSkewBounds(t *testing.T) {
	// Priority 255 is the address owner (no skew); priority 1 waits almost
	// a whole advert interval.
	if got := VRRPSkew(255); got != s/256 {
		t.Errorf("skew at 255 = %v", got)
	}
	if got := VRRPSkew(1); got != 255*s/256 {
		t.Errorf("skew at 1 = %v", got)
	}
	// A higher priority always takes over sooner.
	for p := 1; p < 254; p++ {
		if VRRPTakeover(s, p).Value <= VRRPTakeover(s, p+1).Value {
			t.Fatalf("takeover at priority %d not longer than at %d", p, p+1)
		}
	}
}

func TestSum(t *testing.T) {
	b := VRRPCheckFailover(s, 100, s, s, 2)
	if want := 4*s + 3609375*time.Microsecond; b.Total != want {
		t.Errorf("total = %v, want %v", b.Total, want)
	}
	if len(b.Terms) != 2 || b.Terms[0].Name != "track script fails" {
		t.Errorf("terms = %+v", b.Terms)
	}
	path := Sum("write through the VIP", VRRPTakeover(s, 100), Promotion(0, 1, 3*s, 5*s), ClientReconnect(5*s))
	want := "write through the VIP ≤ 16.609s (VRRP takeover 3.609s + promotion 8s + client reconnect 5s)"
	if got := path.String(); got != want {
		t.Errorf("String() = %q\nwant       %q", got, want)
	}
	if got := HAProxyDown(s, 3, 5*s, 2*s).String(); got != "HAProxy marks the server down: 3 × (1s + min(5s, 1s) + 2s) = 12s" {
		t.Errorf("Term.String() = %q", got)
	}
	if got, want := path.Formula(), "VRRP takeover (3 × 1s + (256 − 100)/256 × 1s) + promotion (0s + 1 × 3s + 5s) + client reconnect (5s)"; got != want {
		t.Errorf("Formula() = %q\nwant        %q", got, want)
	}
	if got := Sum("nothing"); got.Total != 0 || got.String() != "nothing ≤ 0s ()" {
		t.Errorf("empty sum = %+v %q", got, got.String())
	}
}

// Max waits for the longest alternative and names them all.
func TestMax(t *testing.T) {
	down := Sum("old down", HAProxyDown(s, 2, 5*s, 2*s))
	up := Sum("new up", VRRPTakeover(s, 100), HAProxyUp(s, 1, 5*s, 2*s))
	b := Max("writes through HAProxy", down, up)
	// down: 2 × 4s = 8s; up: 3.609375s + 4s.
	if want := 8 * s; b.Total != want {
		t.Errorf("total = %v, want the longer alternative %v", b.Total, want)
	}
	want := "max(HAProxy marks the server down (2 × (1s + min(5s, 1s) + 2s)), " +
		"VRRP takeover (3 × 1s + (256 − 100)/256 × 1s) + HAProxy marks the server up (1 × (1s + min(5s, 1s) + 2s)))"
	if got := b.Formula(); got != want {
		t.Errorf("Formula() = %q\nwant        %q", got, want)
	}
	if b2 := Max("x", up, down); b2.Total != b.Total {
		t.Errorf("Max depends on the order: %v and %v", b.Total, b2.Total)
	}
}
