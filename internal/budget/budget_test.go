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
		{"vrrp priority 254 advert 2", VRRPTakeover(2*s, 254), 6*s + 15625*time.Microsecond, "3 × 2s + (256 − 254)/256 × 2s"},
		{"track script", TrackScriptFall(s, s, 2), 4 * s, "2 × (1s + 1s)"},
		{"haproxy", HAProxyDown(1000*ms, 3, 2*s), 9 * s, "3 × (1s + 2s)"},
		{"haproxy fast", HAProxyDown(250*ms, 2, 500*ms), 1500 * ms, "2 × (0.25s + 0.5s)"},
		{"promotion sync", Promotion(0, 1, 3*s, 30*s), 33 * s, "0s + 1 × 3s + 30s"},
		{"promotion async", Promotion(3*s, 2, 3*s, 5*s), 14 * s, "3s + 2 × 3s + 5s"},
		{"patroni", Patroni(10*s, 2*s), 12 * s, "10s + 2s"},
		{"client", ClientReconnect(5 * s), 5 * s, "5s"},
		{"dns client", DNSClientFailover(5*s, 3), 15 * s, "5s × 3"},
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
	if got := VRRPSkew(s, 255); got != s/256 {
		t.Errorf("skew at 255 = %v", got)
	}
	if got := VRRPSkew(s, 1); got != 255*s/256 {
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
	if got := HAProxyDown(s, 3, 2*s).String(); got != "HAProxy marks the server down: 3 × (1s + 2s) = 9s" {
		t.Errorf("Term.String() = %q", got)
	}
	if got := Sum("nothing"); got.Total != 0 || got.String() != "nothing ≤ 0s ()" {
		t.Errorf("empty sum = %+v %q", got, got.String())
	}
}
